"""Templates unused for the retention period are warned about in the API, then deleted, and
every door carrying them is bumped; a finger in use is kept."""

from __future__ import annotations

from tests.serverhelpers import enrol, make_site, running_server, wait_until

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
