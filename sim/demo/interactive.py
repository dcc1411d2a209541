"""``doorward demo --interactive``: after the day, the site keeps running for a person to try.

Owns ``interact``, ``respond``, ``answer`` and ``run_command``. A small command loop on the terminal: each
line is parsed by ``sim/demo/prompt.py`` (a line it cannot run is answered with what it
expected) and answered with one readable line or a few (``sim/demo/words.py``): ``scan lobby
alice`` puts Alice's finger on the lobby reader, waits for the door's decision, lifts it and
prints the decision in words with its reason code; ``place``/``lift`` do one half each;
``open``/``close`` move a door's contact through its hub (opening it without a grant is a
forced door); ``status`` prints each door's state, bundle version and last decision and the
latest alarms; ``alarms`` all of them, each with the device that raised it. Any other name
is a finger nobody enrolled. Ends on ``quit``, end of input or Ctrl-C; the caller stops every
process either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from doorward.sim.rig.door import SimulatedDoor
from doorward.sim.rig.processes import DemoError
from doorward.sim.demo.prompt import BadCommand, Command, help_text, parse
from doorward.sim.rig.site import DURESS_FINGER, PEOPLE, DemoSite
from doorward.sim.demo.words import alarm_text, decision_text, door_text, versions_text

LATEST_ALARMS = 5  # `status` shows these; `alarms` shows every one


def finger_of(who: str) -> str:
    if who == "alice-duress":
        return DURESS_FINGER
    return PEOPLE[who][1] if who in PEOPLE else f"{who}/right-index"


def people_names() -> list[str]:
    return [*PEOPLE, "alice-duress"]


def interact(site: DemoSite, read: Callable[[str], str] = input,
             write: Callable[[str], None] = print) -> None:  # fmt: skip
    doors = {door.key: door for door in site.doors}
    write(f"\nThe site keeps running (logs in {site.directory / 'logs'}).\n"
          f"{help_text(doors, people_names())}")
    while True:
        try:
            line = read("demo> ")
        except (EOFError, KeyboardInterrupt):
            return
        reply = respond(site, doors, line)
        if reply is None:
            return
        if reply:
            write(reply)


def respond(site: DemoSite, doors: dict[str, SimulatedDoor], line: str) -> str | None:
    """The answer to one typed line: "" for an empty line, None for ``quit``."""
    try:
        command = parse(line, doors)
    except BadCommand as refused:
        return f"? {refused}"
    if command is None:
        return ""
    return None if command.verb == "quit" else answer(site, doors, command)


def answer(site: DemoSite, doors: dict[str, SimulatedDoor], command: Command) -> str:
    """The command's readable answer; a step the site could not do says what and where."""
    try:
        return run_command(site, doors, command)
    except DemoError as error:
        return f"! {error}"
    except OSError as error:  # a hub or module socket that went away
        door = doors.get(command.door or "")
        return f"! {door.name if door else 'the site'}: {error}"


def run_command(site: DemoSite, doors: dict[str, SimulatedDoor], command: Command) -> str:
    if command.verb == "help":
        return help_text(doors, people_names())
    if command.verb == "status":
        return status_text(site)
    if command.verb == "alarms":
        return alarms_text(site) or "no alarms on the webhook yet"
    door = doors[command.door or ""]
    who = command.who or ""
    if command.verb == "scan":
        return decision_text(door.name, who, door.scan(finger_of(who)))
    if command.verb == "place":
        door.module({"place": finger_of(who)})
        return f"{door.name}: {who}'s finger is on the glass (`lift {door.key}` to lift it)"
    if command.verb == "lift":
        door.module({"lift": True})
        return f"{door.name}: the finger is lifted"
    if command.verb == "open":
        door.open_contact()
        return f"{door.name}: contact open (without a grant this is a forced-open alarm)"
    door.close_contact()
    return f"{door.name}: contact closed"


def status_text(site: DemoSite) -> str:
    lines = [door_status(site, door) for door in site.doors]
    latest = alarms_text(site, LATEST_ALARMS, indent="  ")
    lines += [f"latest alarms:\n{latest}"] if latest else ["alarms: none yet"]
    return "\n".join(lines)


def door_status(site: DemoSite, door: SimulatedDoor) -> str:
    status = door.status()
    if status is None:
        return f"{door.name}: no status file (is `doorward run` running?)"
    record = _record(site, door)
    decisions = status.get("last_decisions") or []
    last = decision_text("last decision", None, decisions[-1]) if decisions else "no decision yet"
    return (f"{door.name}: {door_text(status.get('door', {}))}; "
            f"{versions_text(status.get('versions', {}), record)}; "
            f"relay opened {door.relay_openings()} time(s); {last}")


def _record(site: DemoSite, door: SimulatedDoor) -> dict | None:
    """The server's record of the door, or None while the server is down (the door's own
    status still stands)."""
    try:
        return site.door_record(door)
    except (DemoError, httpx.HTTPError):
        return None


def alarms_text(site: DemoSite, latest: int | None = None, indent: str = "") -> str:
    """The webhook's alarms (the ``latest`` ones), each naming the device that raised it."""
    names = {door.door_id: door.name for door in site.doors}
    names[site.ids.get("kiosk", "")] = "Reception kiosk"
    alarms = list(site.webhook.alarms)[-latest:] if latest else list(site.webhook.alarms)
    now = time.monotonic()
    return "\n".join(indent + alarm_text(a.alarm_id, a.kind, _device(names, a.device_id),
                                          now - a.received_mono) for a in alarms)  # fmt: skip


def _device(names: dict[str, str], device_id: str | None) -> str:
    if device_id is None:
        return "the server"  # e.g. server_clock: no device raised it
    return names.get(device_id, f"device {device_id}")
