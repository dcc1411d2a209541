"""`doorward server events`: the events doors sent, filtered by time, door and person, with
names resolved on the server; a table, ``--json`` or ``--csv`` (streamed)."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from typing import Any, Iterator

from doorward.server.domain import event_log
from doorward.server.cli.common import add_config_option, run_handler
from doorward.server.cli.table import Column, compact, printable, spreadsheet_safe, table, to_json
from doorward.server.cli.times import local_text, parse_moment, utc_text

TABLE_LIMIT = 200
SHOWN_ELSEWHERE = {"reason", "alarm", "user", "user_id", "finger", "finger_id",
                   "event_id", "wall_trusted", "mono_s", "boot_id"}


def _at_local(event: dict[str, Any]) -> str:
    try:
        return local_text(dt.datetime.fromisoformat(event["at"].replace("Z", "+00:00")).timestamp())
    except ValueError:
        return event["at"]  # not the protocol's format: shown as the door sent it


def _reason(event: dict[str, Any]) -> Any:
    return event["detail"].get("reason", event["detail"].get("alarm"))


def _clock(event: dict[str, Any]) -> Any:
    return event["detail"].get("wall_trusted")


def _who(name: Any, ident: Any) -> Any:
    return name if name is not None else ident


def _rest(event: dict[str, Any]) -> str:
    return compact({k: v for k, v in event["detail"].items() if k not in SHOWN_ELSEWHERE})


COLUMNS = (
    Column("AT (local)", _at_local),
    Column("DOOR", lambda e: _who(e["device_name"], e["device_id"])),
    Column("KIND", lambda e: e["kind"]),
    Column("REASON", _reason),
    Column("PERSON", lambda e: _who(e["user_name"], e["user_id"])),
    Column("FINGER", lambda e: _who(e["finger_name"], e["finger_id"])),
    Column("CLOCK OK", lambda e: {True: "yes", False: "no"}.get(_clock(e), "-")),
    Column("CHAIN OK", lambda e: "yes" if e["chain_ok"] else "NO"),
    Column("DETAIL", _rest),
)
CSV_FIELDS = ("at", "at_local", "door_id", "door", "kind", "reason", "person_id", "person",
              "finger_id", "finger", "clock_trusted", "chain_ok", "journal_id", "seq",
              "received_at", "detail")


def csv_row(event: dict[str, Any]) -> list[str]:
    flag = {True: "true", False: "false"}
    values = (event["at"], _at_local(event), event["device_id"], event["device_name"], event["kind"],
              _reason(event), event["user_id"], event["user_name"], event["finger_id"],
              event["finger_name"], flag.get(_clock(event), ""), flag[event["chain_ok"]],
              event["journal_id"], event["seq"], utc_text(event["received_at"]),
              json.dumps(event["detail"], sort_keys=True))
    return [spreadsheet_safe(value) for value in values]


def _query(args: argparse.Namespace, conn, now_s: float) -> event_log.EventQuery:
    def moment(text: str | None, option: str) -> str | None:
        return None if text is None else utc_text(parse_moment(text, option, now_s=now_s, relative=True,
                                                               end_of_day=option == "--until"))

    doors = tuple(i for text in args.door or () for i in event_log.door_ids(conn, text))
    people = tuple(i for text in args.person or () for i in _person_ids(conn, text))
    limit = args.limit if args.limit is not None else (None if args.csv else TABLE_LIMIT)
    return event_log.EventQuery(since=moment(args.since, "--since"), until=moment(args.until, "--until"),
                                device_ids=doors, user_ids=people, limit=limit)


def _person_ids(conn, text: str) -> tuple[str, ...]:
    ids = event_log.person_ids(conn, text)
    if len(ids) > 1:
        print(f"note: {len(ids)} people are called {printable(text)!r} ({', '.join(ids)}):"
              " listing the events of each", file=sys.stderr)
    return ids


def _events(args: argparse.Namespace, ctx) -> None:
    conn = ctx.read()
    rows: Iterator[dict[str, Any]] = event_log.select(conn, _query(args, conn, ctx.clock.now()))
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(CSV_FIELDS)
        writer.writerows(csv_row(event) for event in rows)
    elif args.json:
        print(to_json(list(rows)))
    else:
        print("\n".join(table(COLUMNS, rows, empty="(no events match)")))


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of 1 or more: {text!r}")
    return int(text)


def parser(name: str, prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"{prog} {name}", description="Events the doors sent, oldest first. Times without"
        " an offset are the local time of this machine; an age (30m, 12h, 7d, 2w) counts back from now.")
    add_config_option(p)
    p.add_argument("--since", metavar="T", help="from this time on, e.g. 2026-12-03, '2026-12-03 14:00' or 7d")
    p.add_argument("--until", metavar="T", help="before this time, same forms as --since; a date alone includes that day")
    p.add_argument("--door", action="append", metavar="D", help="door or station id or name (may repeat)")
    p.add_argument("--person", action="append", metavar="P", help="person id or name (may repeat)")
    p.add_argument("--limit", type=positive, metavar="N", help=f"only the newest N (default {TABLE_LIMIT}; every one with --csv)")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="JSON for machines (times ISO 8601 UTC)")
    form.add_argument("--csv", action="store_true", help="CSV, streamed, with a header line")
    return p


def main(argv: list[str], prog: str = "doorward server") -> int:
    return run_handler(argv, prog, parser, {"events": _events})
