"""The door's storage: applying a full R307 bundle, and the cost of a durable journal append.

``sync.apply_full_r307_s``: verify and apply a signed bundle of 1,000 templates (500 users,
templates of 512 bytes sealed to the door's key with ``bundle.seal_template``, signed with a
fresh key) to an empty cache, median of 5 runs (target <= 1 s). Timed: ``apply_bundle``
(size cap, signature, payload parse, version, slot plan, the encrypted one-transaction write
and the backstop's fsync + rename).

``journal.append_over_fsync_ratio``: median latency of ``EventJournal.append`` (durable on
return: WAL, synchronous=FULL) over the median of a raw ``os.fsync`` after a small write, in
the same directory, samples interleaved so both see the same disk (target <= 1.5). Refuses
to run on tmpfs or ramfs, where fsync costs nothing and the ratio would mean nothing; it uses
a scratch folder under ``bench/`` (a real disk) rather than /tmp.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from doorward.daemon.codec import bundle
from doorward.daemon.sync.apply import apply_bundle
from doorward.daemon.storage.cache import PermissionCache
from doorward.daemon.journal.store import EventJournal
from doorward.daemon.codec.snapshot import Snapshot

HERE = Path(__file__).resolve().parent
MODULE = "model=R307;system_id=0x0009;capacity=1000"
DOOR = "door-bench"
USERS, FINGERS_PER_USER, TEMPLATE_BYTES = 500, 2, 512
ISSUED_AT = 1793584800.0  # 2026-11-02 02:00 UTC
APPLY_RUNS, JOURNAL_SAMPLES = 5, 300
MEMORY_FILESYSTEMS = {"tmpfs", "ramfs"}


def filesystem_type(directory: Path) -> str:
    """The type of the filesystem holding ``directory``, from the longest /proc/mounts match."""
    best, kind = "", "unknown"
    resolved = str(directory.resolve())
    with open("/proc/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            mount_point, fs_type = line.split()[1:3]
            inside = resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) > len(best):
                best, kind = mount_point, fs_type
    return kind


def full_r307_envelope(signing_key, door_public) -> bytes:
    users = []
    for number in range(USERS):
        fingers = []
        for n in range(FINGERS_PER_USER):
            finger_id, template = f"f-{number:03d}-{n}", os.urandom(TEMPLATE_BYTES)
            fingers.append({
                "id": finger_id, "module_identity": MODULE,
                "template_sha256": bundle.template_sha256(template),
                "sealed_template": bundle.seal_template(template, door_public, door_id=DOOR,
                                                        finger_id=finger_id)})
        users.append({"id": f"u-{number:03d}", "grants": [{"zone": "zone-00"}],
                      "fingers": fingers})
    payload = {"door": DOOR, "zone": {"id": "zone-00"}, "version": 1, "issued_at": ISSUED_AT,
               "expires_at": ISSUED_AT + 7 * 86400, "policy": {}, "lockdown": False,
               "time_zone": "Europe/Berlin", "users": users}
    return bundle.sign_bundle(Snapshot.from_payload(payload), signing_key)


def time_apply(envelope: bytes, trusted: dict, scratch: Path, run: int) -> float:
    cache = PermissionCache(scratch / f"cache-{run}.db", os.urandom(32))
    start = time.perf_counter()
    apply_bundle(envelope, cache=cache, trusted_keys=trusted, door_id=DOOR,
                 module_identity=MODULE, capacity=1000, wall_now=ISSUED_AT + 60,
                 clock_trusted=True, max_clock_skew_s=300.0)
    elapsed_s = time.perf_counter() - start
    cache.close()
    return elapsed_s


def bench_apply(scratch: Path) -> dict[str, float]:
    signing_key = bundle.generate_signing_key()
    envelope = full_r307_envelope(signing_key, bundle.generate_door_keys().public_key())
    trusted = {bundle.public_key_id(signing_key.public_key()): signing_key.public_key()}
    timings_s = sorted(time_apply(envelope, trusted, scratch, run) for run in range(APPLY_RUNS))
    median_s = statistics.median(timings_s)
    print(f"  bundle: {USERS} users, {USERS * FINGERS_PER_USER} templates, "
          f"{len(envelope) / 1024:.0f} KiB envelope")
    print(f"  {'runs':<8}{'min s':>10}{'median s':>10}{'max s':>10}")
    print(f"  {APPLY_RUNS:<8}{timings_s[0]:>10.3f}{median_s:>10.3f}{timings_s[-1]:>10.3f}")
    return {"sync.apply_full_r307_s": round(median_s, 4)}


def fsync_sample_s(raw_file) -> float:
    start = time.perf_counter()
    raw_file.write(b"x" * 200)
    raw_file.flush()
    os.fsync(raw_file.fileno())
    return time.perf_counter() - start


def append_sample_s(journal: EventJournal, number: int) -> float:
    start = time.perf_counter()
    journal.append("granted", {"user": "u-001", "finger": "f-001-0", "score": 120},
                   wall_now=ISSUED_AT + number, wall_trusted=True, mono_now=float(number),
                   boot_id="bench")
    return time.perf_counter() - start


def bench_journal(scratch: Path) -> dict[str, float]:
    journal = EventJournal(scratch / "journal.db", DOOR)
    fsyncs_s, appends_s = [], []
    with open(scratch / "fsync-probe", "ab") as raw_file:
        for number in range(JOURNAL_SAMPLES):  # interleaved: both see the same disk moods
            fsyncs_s.append(fsync_sample_s(raw_file))
            appends_s.append(append_sample_s(journal, number))
    journal.close()
    ratio = statistics.median(appends_s) / statistics.median(fsyncs_s)
    print(f"  {'samples':<10}{'median ms':>11}{'p90 ms':>9}   ({JOURNAL_SAMPLES} each)")
    for name, samples in (("fsync", fsyncs_s), ("append", appends_s)):
        quantiles = statistics.quantiles(samples, n=10)
        print(f"  {name:<10}{statistics.median(samples) * 1e3:>11.3f}{quantiles[-1] * 1e3:>9.3f}")
    print(f"  ratio append/fsync: {ratio:.2f}")
    # The ratio depends on the medium: with a fast fsync the append's fixed CPU cost dominates.
    extra_ms = (statistics.median(appends_s) - statistics.median(fsyncs_s)) * 1e3
    return {"journal.append_over_fsync_ratio": round(ratio, 3),
            "journal.append_fsync_ms_median": round(statistics.median(fsyncs_s) * 1e3, 3),
            "journal.append_extra_ms_median": round(extra_ms, 3)}


def run() -> dict[str, float]:
    kind = filesystem_type(HERE)
    if kind in MEMORY_FILESYSTEMS:
        print(f"  refused: {HERE} is on {kind}; fsync figures need a real disk")
        return {}
    scratch = Path(tempfile.mkdtemp(prefix="scratch-storage-", dir=HERE))
    try:
        print(f"  scratch directory {scratch} on {kind}")
        return bench_apply(scratch) | bench_journal(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
