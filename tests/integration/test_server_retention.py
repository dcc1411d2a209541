"""Templates unused for the retention period are warned about in the API, then deleted, and
every door carrying them is bumped; a finger in use is kept; no template goes without its
warning having stood for the warning period."""

from __future__ import annotations

from doorward.server.domain import people
from doorward.server.api.app import build_context
from doorward.server.clock import ManualClock
from doorward.server.store.keys import create_keys
from doorward.server.duties.monitor import Monitor
from tests.support.server import R307, enrol, make_config, make_site, running_server, template, wait_until

DAY_S = 86400.0


def test_unused_templates_are_warned_about_then_deleted(tmp_path) -> None:
    with running_server(tmp_path, retention_days=100.0, retention_warning_days=10.0,
                        session_s=1e9) as server:
        site = make_site(server)
        idle, busy = enrol(site.admin, "Idle"), enrol(site.admin, "Busy", start=5)
        for person in (idle, busy):
            site.admin.post("/api/v1/grants", json={"person_id": person["person_id"], "zone_id": site.zone_id})
        first = site.door.fetch()
        server.clock.advance(50 * DAY_S)
        site.door.post_events([site.door.event("access_granted", {"finger": busy["finger_ids"][0]})])
        admin = site.admin
        server.clock.advance(41 * DAY_S)  # idle: 91 days unused, inside the warning window
        warned = wait_until(lambda: admin.get("/api/v1/retention").json())
        assert [f["id"] for f in warned] == idle["finger_ids"]
        server.clock.advance(10 * DAY_S)  # 101 days unused, warned 10 days ago
        wait_until(lambda: not admin.get(f"/api/v1/people/{idle['person_id']}").json()["fingers"])
        assert admin.get(f"/api/v1/people/{busy['person_id']}").json()["fingers"] != []
        snapshot = site.door.fetch()
        assert [f.finger_id for u in snapshot.users for f in u.fingers] == busy["finger_ids"]
        assert snapshot.version > first.version
        actions = [(row["action"], row["actor"]) for row in admin.get("/api/v1/audit").json()]
        assert ("finger.delete", "server:retention") in actions


def test_a_template_is_deleted_only_after_its_warning_has_stood_for_the_warning_period(tmp_path) -> None:
    """Unused for far longer than the retention period, but never warned: the first sweep only
    warns; deletion waits the whole warning period from that warning."""
    config = make_config(tmp_path, retention_days=100.0, retention_warning_days=10.0)
    keys = create_keys(config.signing_key_path, config.data_key_path)
    clock = ManualClock()
    ctx = build_context(config, clock, keys)
    start = clock.now()
    with ctx.db.transaction() as conn:
        person = people.create_person(conn, start, "test", name="Idle")
        people.record_consent(conn, start, "test", person, "form 1")
        finger = people.add_finger(conn, start, "test", keys.data, person,
                                   people.NewFinger("index", R307, template(1)))
    monitor = Monitor(ctx)

    def sweep_at(now: float) -> dict | None:
        with ctx.db.transaction() as conn:
            monitor.sweep_retention(conn, now)
        row = ctx.read().execute("SELECT retention_warned_at FROM fingers WHERE id = ?", (finger,)).fetchone()
        return dict(row) if row else None

    warned_at = start + 500 * DAY_S  # the server was off, or the rule was just switched on
    assert sweep_at(warned_at) == {"retention_warned_at": warned_at}
    assert sweep_at(warned_at + 10 * DAY_S - 1) == {"retention_warned_at": warned_at}
    assert sweep_at(warned_at + 10 * DAY_S) is None
    ctx.db.close()
