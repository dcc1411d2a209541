"""``doorward demo --interactive``: after the day, the site keeps running for a person to try.

Owns ``interact``: a small command loop on the terminal. ``scan lobby alice`` puts Alice's
finger on the lobby reader, waits for the door's decision and lifts it; ``place``/``lift``
do one half each; ``open``/``close`` move a door's contact through its hub (opening it
without a grant is a forced door); ``status`` prints both doors' state. Any other name is
a finger nobody enrolled. Ends on ``quit``, end of input or Ctrl-C; the caller stops every
process either way.
"""

from __future__ import annotations

import shlex

from sim.demo_door import DemoDoor
from sim.demo_procs import DemoError
from sim.demo_site import DURESS_FINGER, PEOPLE, DemoSite

HELP = """\
commands (DOOR is lobby or tent; WHO is alice, bob, carol, alice-duress, or any other name):
  scan DOOR WHO     place WHO's finger, wait for the decision, lift it
  place DOOR WHO    put a finger on the glass and leave it there
  lift DOOR         lift the finger
  open DOOR         open the door's contact (without a grant: forced-open alarm)
  close DOOR        close it again
  status            each door's state, versions and last decision; alarms received
  quit"""


def finger_of(who: str) -> str:
    if who == "alice-duress":
        return DURESS_FINGER
    return PEOPLE[who][1] if who in PEOPLE else f"{who}/right-index"


def interact(site: DemoSite, read=input) -> None:  # noqa: ANN001 - a line source
    doors = {door.key: door for door in site.doors}
    print(f"\nThe site keeps running (logs in {site.directory / 'logs'}).\n{HELP}")
    while True:
        try:
            words = shlex.split(read("demo> "))
        except (EOFError, KeyboardInterrupt):
            return
        if words[:1] == ["quit"]:
            return
        try:
            print(run_command(site, doors, words))
        except (DemoError, KeyError, IndexError, ValueError) as error:
            print(f"? {error or 'unknown door or person'}\n{HELP}")


def run_command(site: DemoSite, doors: dict[str, DemoDoor], words: list[str]) -> str:
    if not words or words[0] == "help":
        return HELP
    if words[0] == "status":
        return status_text(site)
    door = doors[words[1]]
    actions = {
        "scan": lambda: str(door.scan(finger_of(words[2]))),
        "place": lambda: str(door.module({"place": finger_of(words[2])})),
        "lift": lambda: str(door.module({"lift": True})),
        "open": lambda: (door.open_contact(), "contact open")[1],
        "close": lambda: (door.close_contact(), "contact closed")[1],
    }
    return actions[words[0]]()


def status_text(site: DemoSite) -> str:
    lines = []
    for door in site.doors:
        status = door.status() or {}
        last = (status.get("last_decisions") or [{}])[-1]
        lines.append(f"{door.name}: {status.get('door', {}).get('state')}, versions "
                     f"{status.get('versions')}, relay openings {door.relay_openings()}, "
                     f"last decision {last.get('kind')}/{last.get('reason')}")
    alarms = ", ".join(f"#{a.alarm_id} {a.kind}" for a in site.webhook.alarms) or "none"
    return "\n".join(lines + [f"alarms on the webhook: {alarms}"])
