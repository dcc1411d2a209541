"""Server figures: a full R307 bundle build, conditional-poll latency under held long-polls,
and event ingest rate. Everything runs on 127.0.0.1 in this process (``doorward.server.api.embedded``).

- ``server.bundle_build_full_r307_ms``: build and sign a bundle of 1,000 templates (median of 5).
- ``server.poll_p99_ms``: polls with the current ETag and ``wait=0`` (answered 304) from 100
  doors at 20 requests/s in all, while 100 other doors hold long-polls open.
- ``server.ingest_events_per_s``: events accepted per second, in batches of 100.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from doorward.daemon.codec import bundle
from doorward.server.domain import devices
from doorward.server.domain import directory
from doorward.server.domain import people
from doorward.server.api.app import create_app
from doorward.server.domain.auth import hash_token, new_token
from doorward.server.clock import ManualClock
from doorward.server.config import ServerConfig
from doorward.server.api.embedded import serve_in_thread
from doorward.server.store.keys import create_keys

R307 = "model=unknown;system_id=0x0009;capacity=1000"
TEMPLATE_BYTES = 512


def _site(ctx, doors: int, people_count: int) -> list[tuple[str, str]]:
    """A zone with ``people_count`` granted fingers and ``doors`` paired doors: (id, token)."""
    now, actor, paired = ctx.clock.now(), "bench", []
    with ctx.db.transaction() as conn:
        site = directory.create_site(conn, now, actor, "Bench", "Europe/Berlin")
        zone = directory.create_zone(conn, now, actor, site, "Floor")
        for n in range(people_count):
            user = people.create_person(conn, now, actor, name=f"person {n}")
            people.record_consent(conn, now, actor, user, "bench")
            people.add_finger(conn, now, actor, ctx.keys.data, user,
                              people.NewFinger("index", R307, os.urandom(TEMPLATE_BYTES)))
            people.add_grant(conn, now, actor, user, zone)
        for n in range(doors):
            paired.append(_paired_door(conn, now, site, zone, n))
    return paired


def _paired_door(conn, now: float, site: str, zone: str, n: int) -> tuple[str, str]:
    door = devices.create_device(conn, now, "bench", kind="door", name=f"door {n}", site_id=site,
                                 zone_id=zone, module_identity=R307, capacity_templates=1000)
    token, key = new_token(), bundle.raw_public(bundle.generate_door_keys().public_key())
    conn.execute("UPDATE devices SET token_sha256 = ?, x25519_public = ?, paired_at = ? WHERE id = ?",
                 (hash_token(token), key, now, door))
    return door, token


def _app(scratch: Path):
    config = ServerConfig(database=scratch / "bench.db", keys_dir=scratch / "keys", assume_synchronised=True)
    keys = create_keys(config.signing_key_path, config.data_key_path)
    return create_app(config, ManualClock(time.time()), keys, background=False)


def bundle_build_ms() -> float:
    with tempfile.TemporaryDirectory() as scratch:
        app = _app(Path(scratch))
        ctx, bundles = app.state.ctx, app.state.bundles
        ((door, _),) = _site(ctx, doors=1, people_count=1000)
        timings = []
        for _ in range(5):
            ctx.db.connection().execute("UPDATE devices SET dirty = dirty + 1 WHERE id = ?", (door,))
            started = time.perf_counter()
            bundles.ensure_current(door)
            timings.append((time.perf_counter() - started) * 1000)
        envelope = bundles.envelope(door)
        trusted = {ctx.keys.key_id: ctx.keys.signing.public_key()}
        assert sum(len(u.fingers) for u in bundle.verify_bundle(envelope, trusted, door_id=door).users) == 1000
        ctx.db.close()
        return statistics.median(timings)


async def _hold(client: httpx.AsyncClient, token: str, etag: str) -> None:
    await client.get("/api/v1/device/bundle", params={"wait": 30},
                     headers={"Authorization": f"Bearer {token}", "If-None-Match": etag})


async def _poll_latencies(url: str, doors: list[tuple[str, str]], etags: dict[str, str]) -> list[float]:
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits, trust_env=False) as client:
        held = [asyncio.create_task(_hold(client, t, etags[d])) for d, t in doors[100:]]
        await asyncio.sleep(1.0)  # the long-polls are now held open
        latencies = []
        for n in range(200):  # 10 s at 20 requests/s, round-robin over 100 doors
            door, token = doors[n % 100]
            started = time.perf_counter()
            answer = await client.get("/api/v1/device/bundle", params={"wait": 0},
                                      headers={"Authorization": f"Bearer {token}", "If-None-Match": etags[door]})
            latencies.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 304, answer.status_code
            await asyncio.sleep(max(0.0, 0.05 - latencies[-1] / 1000))
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)
        return latencies


def poll_p99_ms() -> float:
    with tempfile.TemporaryDirectory() as scratch:
        app = _app(Path(scratch))
        doors = _site(app.state.ctx, doors=200, people_count=0)
        etags = {door: app.state.bundles.ensure_current(door).etag for door, _ in doors}
        with serve_in_thread(app) as (url, _):
            latencies = asyncio.run(_poll_latencies(url, doors, etags))
        return statistics.quantiles(latencies, n=100)[98]


def _events(door: str, count: int) -> list[dict]:
    events, previous = [], bundle.GENESIS_HASH
    start = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
    for seq in range(1, count + 1):
        at = (start + dt.timedelta(seconds=seq)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        event = bundle.make_event(door_id=door, journal_id="j-bench", seq=seq, at=at, kind="granted",
                                  detail={"user_id": "u_1", "finger_id": "f_1"}, prev_hash=previous)
        previous = event.hash
        events.append(event.to_dict())
    return events


def ingest_events_per_s() -> float:
    with tempfile.TemporaryDirectory() as scratch:
        app = _app(Path(scratch))
        ((door, token),) = _site(app.state.ctx, doors=1, people_count=0)
        events = _events(door, 10_000)
        with serve_in_thread(app) as (url, _), httpx.Client(base_url=url, trust_env=False, timeout=30) as client:
            headers = {"Authorization": f"Bearer {token}"}
            started = time.perf_counter()
            for offset in range(0, len(events), 100):
                answer = client.post("/api/v1/device/events", json={"events": events[offset:offset + 100]},
                                     headers=headers)
                assert answer.json()["accepted"] == 100, answer.text
            return len(events) / (time.perf_counter() - started)


def run() -> dict[str, float]:
    figures = {
        "server.bundle_build_full_r307_ms": round(bundle_build_ms(), 1),
        "server.poll_p99_ms": round(poll_p99_ms(), 2),
        "server.ingest_events_per_s": round(ingest_events_per_s()),
    }
    targets = {"server.bundle_build_full_r307_ms": "<= 500", "server.poll_p99_ms": "<= 50",
               "server.ingest_events_per_s": ">= 5000"}
    for name, value in figures.items():
        print(f"  {name:<38} {value:>10}   target {targets[name]}")
    return figures


if __name__ == "__main__":
    run()
