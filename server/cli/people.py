"""`doorward server person | grant | revoke | alarms`."""

from __future__ import annotations

import argparse
import sys

from doorward.server.domain import alarms
from doorward.server.cli import layouts as cli_layouts
from doorward.server.cli import views as cli_views
from doorward.server.domain import people
from doorward.server.cli.common import actor, add_action, add_config_option, run_handler, show
from doorward.server.cli.times import local_text, parse_moment


def _person(args, ctx) -> None:
    now, conn = ctx.clock.now(), ctx.read()
    if args.action == "list":
        return show(args, cli_views.person_list(conn), cli_layouts.lines(cli_layouts.PEOPLE))
    if args.action == "show":
        return show(args, cli_views.person(conn, args.person), cli_layouts.person_page)
    if args.action == "add":
        return _add_person(args, ctx, now)
    with ctx.write() as conn:
        if args.action == "consent":
            people.record_consent(conn, now, actor(), args.person, args.reference)
        else:
            people.delete_person(conn, now, actor(), args.person, ledger=ctx.ledger)
            print("deleted; doors confirm the removal: see person show")


def _add_person(args, ctx, now: float) -> None:
    """A visitor's window: the door lets them in from ``--valid-from`` until ``--valid-until``."""
    window = {key: None if text is None else parse_moment(text, option, now_s=now, end_of_day=end)
              for key, option, text, end in (("valid_from", "--valid-from", args.valid_from, False),
                                             ("valid_until", "--valid-until", args.valid_until, True))}
    with ctx.write() as conn:
        ident = people.create_person(conn, now, actor(), name=args.name, roles=args.role or [], **window)
    print(ident)
    if args.valid_from or args.valid_until:
        print(f"valid from {local_text(window['valid_from'])} until {local_text(window['valid_until'])}"
              " (local time)", file=sys.stderr)


def _grant(args, ctx) -> None:
    with ctx.write() as conn:
        print(people.add_grant(conn, ctx.clock.now(), actor(), args.person, args.zone, args.schedule))


def _revoke(args, ctx) -> None:
    with ctx.write() as conn:
        people.revoke_grant(conn, ctx.clock.now(), actor(), args.grant, ledger=ctx.ledger)


def _alarms(args, ctx) -> None:
    if args.action == "list":
        return show(args, cli_views.alarm_list(ctx.read(), args.state, args.limit),
                    cli_layouts.lines(cli_layouts.ALARMS))
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
        p.add_argument("grant", help="grant id (see person show)")
    elif name == "person":
        _person_actions(p.add_subparsers(dest="action", required=True))
    else:
        actions = p.add_subparsers(dest="action", required=True)
        listing = add_action(actions, "list", "the newest alarms first", listing=True)
        listing.add_argument("--state", choices=alarms.STATES)
        listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
        add_action(actions, "ack", "acknowledge: someone is on it").add_argument("alarm", type=int)
        add_action(actions, "clear", "clear: dealt with").add_argument("alarm", type=int)
    return p


def _person_actions(actions) -> None:
    add = add_action(actions, "add", "add a person; prints their id")
    add.add_argument("name")
    add.add_argument("--role", action="append", metavar="R", help="e.g. security (may enter under lockdown); may repeat")
    for option, meaning in (("--valid-from", "from"), ("--valid-until", "until")):
        add.add_argument(option, metavar="T", help=f"a visitor's window: let in {meaning} this time, e.g. 2026-12-03"
                         " (a whole day) or '2026-12-03 17:00' (local time unless it ends in Z or an offset)")
    add_action(actions, "list", "everyone, by name", listing=True)
    add_action(actions, "show", "one person: fingers, grants, removals", listing=True).add_argument("person")
    add_action(actions, "delete", "erase: fingers and grants deleted, doors told").add_argument("person")
    consent = add_action(actions, "consent", "record that the person signed the consent form")
    consent.add_argument("person")
    consent.add_argument("reference", help="where the signed consent form is kept")


HANDLERS = {"person": _person, "grant": _grant, "revoke": _revoke, "alarms": _alarms}


def main(argv: list[str], prog: str = "doorward server") -> int:
    return run_handler(argv, prog, parser, HANDLERS)
