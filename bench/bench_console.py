"""Console figures over a large event log: the first filtered page and the CSV export.

1,000,000 events from 20 doors and 2,000 people over 30 days (85 % granted, 15 % denied with
one of six reasons, a few alarms) are written straight into a fresh server database; the
server then runs on 127.0.0.1 in this process (``doorward.server.api.embedded``) and an
auditor signs in through the console's form.

- ``console.events_page_p95_ms``: ``GET /console/events`` with a filter, whole page rendered,
  95th percentile over 10 rounds of 10 filters (none, a door, a person, an outcome, a reason,
  the last 7 days, an outcome and a reason that match nothing, a door and an outcome, a door
  and a day); the median is
  ``console.events_page_p50_ms``, and each filter's median is printed.
- ``console.events_csv_rows_per_s``: ``GET /console/events.csv`` of one door's events (about
  50,000 rows), streamed, rows received per second.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from doorward.server.api.app import create_app
from doorward.server.api.embedded import serve_in_thread
from doorward.server.clock import ManualClock
from doorward.server.config import ServerConfig
from doorward.server.domain import directory
from doorward.server.domain.auth import create_admin
from doorward.server.store.keys import create_keys

EVENTS, DOORS, PEOPLE = 1_000_000, 20, 2_000
DENIALS = ("no_grant", "outside_schedule", "user_expired", "unknown_finger", "lockdown", "holiday")
START = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
SPAN_S = 30 * 86400
PASSWORD = "bench console password"


def _app(scratch: Path):
    config = ServerConfig(database=scratch / "server.db", keys_dir=scratch / "keys", assume_synchronised=True)
    keys = create_keys(config.signing_key_path, config.data_key_path)
    return create_app(config, ManualClock(START.timestamp() + SPAN_S), keys, background=False)


def _fill(ctx) -> dict[str, str]:
    now, rng = ctx.clock.now(), random.Random(16)
    with ctx.db.transaction() as conn:
        site = directory.create_site(conn, now, "bench", "Bench", "Europe/Berlin")
        zone = directory.create_zone(conn, now, "bench", site, "Floor")
        doors = [f"d_{n:016x}" for n in range(DOORS)]
        conn.executemany("INSERT INTO devices (id, kind, name, site_id, zone_id, module_identity, capacity,"
                         " policy, created_at) VALUES (?, 'door', ?, ?, ?, 'm', 1000, '{}', ?)",
                         [(door, f"door {n}", site, zone, now) for n, door in enumerate(doors)])
        people = [f"u_{n:016x}" for n in range(PEOPLE)]
        conn.executemany("INSERT INTO users (id, name, roles, created_at) VALUES (?, ?, '[]', ?)",
                         [(person, f"person {n}", now) for n, person in enumerate(people)])
        conn.executemany("INSERT INTO fingers (id, user_id, name, module_identity, template_sealed,"
                         " template_sha256, enrolled_at, enrolled_by) VALUES (?, ?, 'index', 'm', x'00', ?, ?, 'bench')",
                         [(f"f_{n:016x}", person, f"{n:064x}", now) for n, person in enumerate(people)])
        create_admin(conn, ctx.passwords, "bench-auditor", "auditor", PASSWORD, now)
    with ctx.db.transaction() as conn:
        conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,1,?)", _events(rng, doors))
    return {"door": doors[3], "person": "person 42"}


def _events(rng: random.Random, doors: list[str]):
    for seq in range(1, EVENTS + 1):
        offset_s = seq * SPAN_S / EVENTS
        at = (START + dt.timedelta(seconds=offset_s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        person = rng.randrange(PEOPLE)
        roll = rng.random()
        if roll < 0.85:
            kind, detail = "access_granted", {"reason": "granted"}
        elif roll < 0.999:
            kind, detail = "access_denied", {"reason": rng.choice(DENIALS)}
        else:
            kind, detail = "alarm", {"alarm": "forced_open"}
        if kind != "alarm":
            detail.update(user=f"u_{person:016x}", finger=f"f_{person:016x}")
        yield (rng.choice(doors), "j-bench", seq, at, kind, json.dumps(detail), "0" * 64, "0" * 64,
               START.timestamp() + offset_s + 0.5)


def _signed_in(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, trust_env=False, timeout=120)
    form = client.get("/console/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    answer = client.post("/console/login", data={"csrf": csrf, "name": "bench-auditor", "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return client


def _filters(known: dict[str, str]) -> dict[str, dict[str, str]]:
    last_day = (START + dt.timedelta(days=29)).strftime("%Y-%m-%d")
    return {"none": {}, "door": {"door": known["door"]}, "person": {"person": known["person"]},
            "outcome": {"outcome": "denied"}, "reason": {"reason": "holiday"}, "7 days": {"since": "7d"},
            "none ignored": {"outcome": "ignored"}, "absent reason": {"reason": "tamper_unconfirmed"},
            "door+outcome": {"door": known["door"], "outcome": "denied"},
            "door+day": {"door": known["door"], "since": last_day, "until": last_day}}


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as scratch:
        app = _app(Path(scratch))
        started = time.perf_counter()
        known = _fill(app.state.ctx)
        print(f"  {EVENTS:,} events written in {time.perf_counter() - started:.0f} s")
        with serve_in_thread(app) as (url, _):
            client = _signed_in(url)
            samples: dict[str, list[float]] = {name: [] for name in _filters(known)}
            for _ in range(10):
                for name, params in _filters(known).items():
                    began = time.perf_counter()
                    answer = client.get("/console/events", params=params)
                    samples[name].append((time.perf_counter() - began) * 1000)
                    assert answer.status_code == 200, (name, answer.text[:500])
            every = [ms for values in samples.values() for ms in values]
            for name, values in samples.items():
                print(f"  first page, {name:<14} median {statistics.median(values):8.1f} ms")
            began, rows = time.perf_counter(), 0
            with client.stream("GET", "/console/events.csv", params={"door": known["door"]}) as answer:
                for line in answer.iter_lines():
                    rows += 1
            csv_s = time.perf_counter() - began
            client.close()
    figures = {
        "console.events_page_p95_ms": round(statistics.quantiles(every, n=20)[18], 1),
        "console.events_page_p50_ms": round(statistics.median(every), 1),
        "console.events_csv_rows_per_s": round((rows - 1) / csv_s),
    }
    targets = {"console.events_page_p95_ms": "<= 200", "console.events_page_p50_ms": "",
               "console.events_csv_rows_per_s": ">= 50000"}
    print(f"  CSV export: {rows - 1:,} rows in {csv_s:.1f} s")
    for name, value in figures.items():
        print(f"  {name:<38} {value:>10}   target {targets[name]}")
    return figures


if __name__ == "__main__":
    run()
