"""The demo's scripted day, played against a built ``DemoSite`` and printed as a timeline.

Owns ``play_day``: a granted entry at the lobby; a denial at the restricted tent; a
two-person entry into the tent; a duress entry and its alarm on the webhook; the server
stopped, an entry still granted from the door's cache and its events queued; the server
back and the events uploaded; a revocation reaching the door within seconds, with the
door's confirmation of removal from cache and module; a forced door and its alarm. Every
step checks what it claims (``DemoError`` otherwise), and every fact printed comes from
an outside view: the door's status file, the hub's relay timeline, the server's API, the
webhook. Each step returns the record the tests assert on.
"""

from __future__ import annotations

import time

from doorward.sim.rig.door import SimulatedDoor
from doorward.sim.rig.processes import DemoError, wait_until
from doorward.sim.rig.site import DURESS_FINGER, PEOPLE, DemoSite

ALARM_DEADLINE_S = 5.0  # promise 17: alarms leave the server within 5 s


def play_day(site: DemoSite) -> dict:
    steps = (lobby_entry, tent_denial, two_person_entry, duress_entry, server_outage,
             server_back, revocation, forced_door)  # fmt: skip
    for step in steps:
        step(site)
    return summary(site)


def _finger(person: str) -> str:
    return PEOPLE[person][1]


def _scan(site: DemoSite, door: SimulatedDoor, person: str, finger: str | None = None) -> dict:
    """One scan; the decision with the relay openings it caused (from the hub's timeline)."""
    door.wait_locked()
    before = door.relay_openings()
    decision = door.scan(finger or _finger(person))
    if decision["kind"] == "access_granted":  # the relay's pulse is already under way
        wait_until(lambda: door.relay_openings() > before, 3, f"{door.name}: the relay")
    return {**decision, "relay_openings": door.relay_openings() - before}


def _expect(decision: dict, kind: str, reason: str, what: str) -> None:
    if (decision["kind"], decision["reason"]) != (kind, reason):
        raise DemoError(f"{what}: expected {kind}/{reason}, got {decision}")


def lobby_entry(site: DemoSite) -> None:
    site.timeline.heading("08:58  Alice arrives")
    decision = _scan(site, site.lobby, "alice")
    _expect(decision, "access_granted", "granted", "Alice at the lobby")
    site.timeline.event("lobby_granted", "Lobby door: Alice -> granted, relay opened "
                        f"{decision['relay_openings']}x", door="lobby", **decision)


def tent_denial(site: DemoSite) -> None:
    site.timeline.heading("09:10  Carol tries the tent")
    decision = _scan(site, site.tent, "carol")
    _expect(decision, "access_denied", "unknown_finger", "Carol at the tent")
    site.timeline.event("tent_denied", "Tent door: Carol -> denied (unknown_finger: the tent "
                        "door holds only the templates of people allowed in)", door="tent",
                        **decision)  # fmt: skip


def two_person_entry(site: DemoSite) -> None:
    site.timeline.heading("09:30  Alice and Bob enter the tent together")
    first = _scan(site, site.tent, "alice")
    _expect(first, "access_denied", "waiting_second_person", "Alice first at the tent")
    site.timeline.event("tent_waiting", "Tent door: Alice -> waiting for a second person "
                        "(two-person rule), relay stays shut", door="tent", **first)
    second = _scan(site, site.tent, "bob")
    _expect(second, "access_granted", "granted", "Bob second at the tent")
    site.timeline.event("tent_two_person", "Tent door: Bob -> granted: two people, relay "
                        f"opened {second['relay_openings']}x", door="tent", **second)


def duress_entry(site: DemoSite) -> None:
    site.timeline.heading("11:00  Alice is forced to open the lobby")
    started = time.monotonic()
    decision = _scan(site, site.lobby, "alice", DURESS_FINGER)
    _expect(decision, "access_granted", "granted_duress", "Alice's duress finger")
    site.timeline.event("duress_granted", "Lobby door: Alice (duress finger) -> opens as usual; "
                        "nothing at the door shows it", door="lobby", **decision)
    alarm = _alarm(site, "duress", site.lobby, started)
    site.timeline.event("duress_alarm", f"webhook: duress alarm #{alarm.alarm_id} from the lobby "
                        f"door, {alarm.received_mono - started:.2f} s after the finger touched the glass",
                        kind=alarm.kind, after_s=round(alarm.received_mono - started, 2))


def _alarm(site: DemoSite, kind: str, door: SimulatedDoor, after_mono: float):  # noqa: ANN202
    alarm = site.webhook.wait_for(kind, door.door_id, after_mono, timeout_s=ALARM_DEADLINE_S + 5)
    if alarm is None:
        raise DemoError(f"no {kind} alarm from {door.name} on the webhook")
    return alarm


def server_outage(site: DemoSite) -> None:
    site.timeline.heading("12:00  The server goes down")
    site.ids["lobby_grants_before_outage"] = str(len(_server_events(site, site.lobby, "access_granted")))
    site.server.stop()
    site.lobby.wait_status(lambda s: not s["sync"]["online"], 10, "noticing the server is gone")
    site.timeline.event("server_stopped", "server stopped; the lobby door reports sync offline")
    decision = _scan(site, site.lobby, "bob")
    _expect(decision, "access_granted", "granted", "Bob at the lobby while offline")
    queued = site.lobby.wait_status(lambda s: s["journal"]["backlog"] > 0, 5, "events queued")
    backlog = queued["journal"]["backlog"]
    site.timeline.event("offline_granted", f"Lobby door: Bob -> granted from the door's cache; "
                        f"{backlog} event(s) queued", door="lobby", backlog=backlog, **decision)


def server_back(site: DemoSite) -> None:
    site.timeline.heading("12:05  The server is back")
    site.server.start()
    started = time.monotonic()
    for door in site.doors:  # cut the door's back-off short, as an admin would
        door.doorward("sync")
    site.lobby.wait_status(lambda s: s["journal"]["backlog"] == 0 and s["sync"]["online"], 20,
                           "the queued events uploaded")  # fmt: skip
    grants = _server_events(site, site.lobby, "access_granted")
    if len(grants) != int(site.ids["lobby_grants_before_outage"]) + 1:
        raise DemoError(f"the offline grant did not reach the server: {len(grants)} grants")
    site.timeline.event("events_uploaded", f"server back; the lobby door's queue emptied in "
                        f"{time.monotonic() - started:.1f} s; the server holds {len(grants)} "
                        "lobby grants, the offline one included", lobby_grants=len(grants))


def _server_events(site: DemoSite, door: SimulatedDoor, kind: str) -> list[dict]:
    answer = site.admin().get("/api/v1/events", params={"device_id": door.door_id, "limit": 10000})
    events = answer.json()
    rows = events["items"] if isinstance(events, dict) else events
    return [e for e in rows if e["kind"] == kind]


def revocation(site: DemoSite) -> None:
    site.timeline.heading("14:00  Bob's lobby access is revoked")
    grant = site.grants[("bob", "lobby")]
    took = site.change_and_sync((site.lobby,), lambda: site.server.cli("revoke", grant))
    seconds = took[site.lobby.name]
    site.timeline.event("revoked", f"`doorward server revoke {grant}`: the lobby door applied it "
                        f"and removed Bob's template from its module in {seconds:.1f} s",
                        seconds=seconds)
    removals = _confirmed_removals(site, site.lobby, site.ids["bob"])
    site.timeline.event("removal_confirmed", f"server: the lobby door confirmed {len(removals)} "
                        "finger(s) gone from cache and module", removals=len(removals))
    decision = _scan(site, site.lobby, "bob")
    if decision["kind"] != "access_denied":
        raise DemoError(f"Bob after the revocation: {decision}")
    site.timeline.event("revoked_denied", f"Lobby door: Bob -> denied ({decision['reason']})",
                        door="lobby", **decision)


def _confirmed_removals(site: DemoSite, door: SimulatedDoor, person_id: str) -> list[dict]:
    def confirmed() -> list[dict]:
        rows = site.admin().get(f"/api/v1/doors/{door.door_id}/removals").json()
        rows = rows["items"] if isinstance(rows, dict) else rows
        mine = [r for r in rows if r["user_id"] == person_id]
        done = mine and all(r["cache_confirmed_at"] and r["module_confirmed_at"] for r in mine)
        return mine if done else []
    return wait_until(confirmed, 10, f"{door.name}: removal confirmed to the server", 0.2)


def forced_door(site: DemoSite) -> None:
    site.timeline.heading("22:00  The lobby door is forced")
    started = time.monotonic()
    site.lobby.open_contact()
    alarm = _alarm(site, "forced", site.lobby, started)
    site.lobby.close_contact()
    site.timeline.event("forced_alarm", f"webhook: forced alarm #{alarm.alarm_id}, "
                        f"{alarm.received_mono - started:.2f} s after the contact opened",
                        kind=alarm.kind, after_s=round(alarm.received_mono - started, 2))


def summary(site: DemoSite) -> dict:
    openings = {door.name: door.relay_openings() for door in site.doors}
    alarms = sorted({alarm.kind for alarm in site.webhook.alarms})
    site.timeline.heading("Summary")
    site.timeline.event("summary", f"relay openings {openings}; alarms on the webhook: "
                        f"{', '.join(alarms)}; webhook signatures refused: {site.webhook.refused}",
                        openings=openings, alarms=alarms)  # fmt: skip
    return {"openings": openings, "alarms": alarms}
