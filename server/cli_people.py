"""`doorward server person | grant | revoke | alarms`."""

from __future__ import annotations

import argparse

from server import alarms, devices, directory, people
from server.cli_common import actor, add_action, add_config_option, run_handler, show


def _person(args, ctx) -> None:
    now, conn = ctx.clock.now(), ctx.read()
    if args.action == "list":
        return show(directory.list_rows(conn, "SELECT id, name, active, consent_at FROM users ORDER BY name"))
    if args.action == "show":
        return show({**people.person_view(conn, args.person),
                     "removals": devices.removals(conn, "user_id = ?", (args.person,))})
    with ctx.write() as conn:
        if args.action == "add":
            print(people.create_person(conn, now, actor(), name=args.name, roles=args.role or []))
        elif args.action == "consent":
            people.record_consent(conn, now, actor(), args.person, args.reference)
        else:
            people.delete_person(conn, now, actor(), args.person, ledger=ctx.ledger)
            print("deleted; doors confirm removal: see `person show`")


def _grant(args, ctx) -> None:
    with ctx.write() as conn:
        print(people.add_grant(conn, ctx.clock.now(), actor(), args.person, args.zone, args.schedule))


def _revoke(args, ctx) -> None:
    with ctx.write() as conn:
        people.revoke_grant(conn, ctx.clock.now(), actor(), args.grant, ledger=ctx.ledger)


def _alarms(args, ctx) -> None:
    if args.action == "list":
        return show(alarms.list_alarms(ctx.read(), args.state, args.limit))
    with ctx.write() as conn:
        change = alarms.acknowledge if args.action == "ack" else alarms.clear
        change(conn, ctx.clock.now(), actor(), args.alarm)


def parser(name: str, prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"{prog} {name}")
    add_config_option(p)
    if name == "grant":
        p.add_argument("person")
        p.add_argument("zone")
        p.add_argument("--schedule", help="schedule id; default: at any time")
    elif name == "revoke":
        p.add_argument("grant", help="grant id (see `person show`)")
    elif name == "person":
        _person_actions(p.add_subparsers(dest="action", required=True))
    else:
        actions = p.add_subparsers(dest="action", required=True)
        listing = add_action(actions, "list")
        listing.add_argument("--state", choices=alarms.STATES)
        listing.add_argument("--limit", type=int, default=100)
        add_action(actions, "ack").add_argument("alarm", type=int)
        add_action(actions, "clear").add_argument("alarm", type=int)
    return p


def _person_actions(actions) -> None:
    add = add_action(actions, "add")
    add.add_argument("name")
    add.add_argument("--role", action="append", help="e.g. security (may enter under lockdown)")
    add_action(actions, "list")
    add_action(actions, "show").add_argument("person")
    add_action(actions, "delete").add_argument("person")
    consent = add_action(actions, "consent")
    consent.add_argument("person")
    consent.add_argument("reference", help="where the signed consent form is kept")


HANDLERS = {"person": _person, "grant": _grant, "revoke": _revoke, "alarms": _alarms}


def main(argv: list[str], prog: str = "doorward server") -> int:
    return run_handler(argv, prog, parser, HANDLERS)
