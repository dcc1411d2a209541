"""decide() on a full R307 door: 1,000 templates, 500 users, 20 zones (target: median <= 50 us).

Builds the snapshot through ``Snapshot.from_payload`` like a real bundle, builds its index
once (as applying a bundle does), then times ``decide()`` for confirmed hits spread over
every finger, at instants spread over a working week, with the clock trusted. Printed: the
one-off costs (parse, index) and the per-scan distribution.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import time

from doorward.daemon.access.claim import Claim, SlotState
from doorward.daemon.access.decision import DecisionState, decide
from doorward.daemon.access.state import snapshot_applied
from doorward.daemon.codec.snapshot import Snapshot

MODULE = "model=R307;system_id=0x0009;capacity=1000"
USERS, FINGERS_PER_USER, ZONES = 500, 2, 20
DOOR_ZONE = "zone-00"
ISSUED_AT = 1793584800.0  # 2026-11-02 02:00 UTC, a Monday
SCANS = 20_000


def _schedule(number: int) -> dict:
    day = [["07:00", "12:00"], ["13:00", "19:00"]]
    weekly = {name: day for name in ("mon", "tue", "wed", "thu", "fri")}
    weekly["sat"] = [["22:00", "06:00"]] if number % 2 else []
    return {"id": f"sched-{number:02d}", "weekly": weekly, "holiday": [["09:00", "12:00"]]}


def _user(number: int, rng: random.Random) -> dict:
    zones = [DOOR_ZONE, *rng.sample([f"zone-{z:02d}" for z in range(1, ZONES)], 2)]
    grants = [{"zone": zone, "schedule": None if rng.random() < 0.2 else f"sched-{rng.randrange(ZONES):02d}"}
              for zone in zones]
    fingers = [{"id": f"f-{number:03d}-{n}", "module_identity": MODULE,
                "template_sha256": hashlib.sha256(f"{number}-{n}".encode()).hexdigest(),
                "sealed_template": "A" * 1100, "duress": n == 1 and number % 50 == 0}
               for n in range(FINGERS_PER_USER)]
    return {"id": f"u-{number:03d}", "roles": ["staff"], "grants": grants, "fingers": fingers,
            "valid_until": ISSUED_AT + 365 * 86400 if number % 10 == 0 else None}


def full_payload() -> dict:
    rng = random.Random(307)
    return {
        "door": "door-bench", "zone": {"id": DOOR_ZONE}, "version": 1,
        "issued_at": ISSUED_AT, "expires_at": ISSUED_AT + 7 * 86400, "policy": {},
        "lockdown": False, "time_zone": "Europe/Berlin",
        "schedules": [_schedule(n) for n in range(ZONES)],
        "holidays": ["2026-12-24", "2026-12-25", "2026-12-26", "2027-01-01"],
        "users": [_user(n, rng) for n in range(USERS)],
    }


def _timed(function):
    start = time.perf_counter()
    result = function()
    return result, (time.perf_counter() - start) * 1e3


def run() -> dict[str, float]:
    payload = full_payload()
    snapshot, parse_ms = _timed(lambda: Snapshot.from_payload(payload))
    _, index_ms = _timed(lambda: snapshot.index)
    rng = random.Random(1)
    fingers = [f.finger_id for u in snapshot.users for f in u.fingers]
    scans = [(Claim.hit(rng.randrange(1000), 150, SlotState.ACTIVE, rng.choice(fingers), True, MODULE),
              ISSUED_AT + rng.uniform(0, 5 * 86400)) for _ in range(SCANS)]
    state = snapshot_applied(DecisionState.initial(), mono_now=0.0)
    timings_us, granted = [], 0
    for mono, (claim, wall) in enumerate(scans):
        start = time.perf_counter_ns()
        decision, _ = decide(claim, snapshot, state, wall, float(mono), True)
        timings_us.append((time.perf_counter_ns() - start) / 1e3)
        granted += decision.granted
    timings_us.sort()
    median_us = statistics.median(timings_us)
    print(f"  snapshot: {len(snapshot.users)} users, {len(fingers)} templates, {ZONES} zones")
    print(f"  {'from_payload':<22} {parse_ms:9.1f} ms (once per bundle)")
    print(f"  {'index build':<22} {index_ms:9.1f} ms (once per bundle)")
    print(f"  {'decide() median':<22} {median_us:9.1f} us")
    print(f"  {'decide() p99':<22} {timings_us[int(0.99 * len(timings_us))]:9.1f} us")
    print(f"  {'granted':<22} {granted:9d} of {SCANS} scans")
    return {"decide.us_median_full_r307": round(median_us, 2)}


if __name__ == "__main__":
    print(run())
