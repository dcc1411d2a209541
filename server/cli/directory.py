"""`doorward server site | zone | door | pairing-code`."""

from __future__ import annotations

import argparse

from doorward.server.cli import layouts as cli_layouts
from doorward.server.cli import views as cli_views
from doorward.server.domain import devices
from doorward.server.domain import directory
from doorward.server.domain import pairing
from doorward.server.cli.common import actor, add_action, add_config_option, run_handler, show


def _site(args, ctx) -> None:
    now = ctx.clock.now()
    if args.action == "list":
        return show(args, cli_views.sites(ctx.read()), cli_layouts.lines(cli_layouts.SITES))
    with ctx.write() as conn:
        if args.action == "add":
            print(directory.create_site(conn, now, actor(), args.name, args.time_zone))
        else:
            directory.update_site(conn, now, actor(), args.site, args.time_zone)


def _zone(args, ctx) -> None:
    now = ctx.clock.now()
    if args.action == "list":
        return show(args, cli_views.zones(ctx.read()), cli_layouts.lines(cli_layouts.ZONES))
    with ctx.write() as conn:
        if args.action == "add":
            print(directory.create_zone(conn, now, actor(), args.site, args.name, args.two_person))
        else:
            directory.update_zone(conn, now, actor(), args.zone, {"lockdown": args.state == "on"},
                                  ledger=ctx.ledger)


def _door(args, ctx) -> None:
    now, after = ctx.clock.now(), ctx.config.heartbeat_interval_s * ctx.config.missed_heartbeats
    if args.action == "list":
        return show(args, cli_views.device_list(ctx.read(), now, after), cli_layouts.lines(cli_layouts.DOORS))
    if args.action == "show":
        return show(args, cli_views.device(ctx.read(), args.device, now, after), cli_layouts.door_page)
    with ctx.write() as conn:
        if args.action == "add":
            print(devices.create_device(
                conn, now, actor(), kind="station" if args.station else "door", name=args.name,
                site_id=args.site, zone_id=args.zone, module_identity=args.module_identity,
                capacity_templates=args.capacity))
        elif args.action == "delete":
            devices.delete_device(conn, now, actor(), args.device, ledger=ctx.ledger)
        else:
            devices.update_device(conn, now, actor(), args.device, {"lockdown": args.state == "on"},
                                  ledger=ctx.ledger)


def _pairing_code(args, ctx) -> None:
    with ctx.write() as conn:
        code, expires_at = pairing.create_code(conn, ctx.clock.now(), actor(), args.device,
                                               ctx.config.pairing_code_s)
    print(f"pairing code: {code}  (single use, expires in {ctx.config.pairing_code_s:.0f} s)")
    print(f"server key fingerprint: {ctx.keys.fingerprint}")


def parser(name: str, prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"{prog} {name}")
    add_config_option(p)
    if name == "pairing-code":
        p.add_argument("device", help="door or station id")
        return p
    actions = p.add_subparsers(dest="action", required=True)
    add_action(actions, "list", "list the doors and stations" if name == "door" else f"list the {name}s",
               listing=True)
    if name == "site":
        add = add_action(actions, "add", "add a site; prints its id")
        add.add_argument("name")
        add.add_argument("--time-zone", required=True, help="IANA name, e.g. Europe/Berlin")
        tz = add_action(actions, "set-time-zone", "change a site's time zone")
        tz.add_argument("site")
        tz.add_argument("time_zone")
    elif name == "zone":
        add = add_action(actions, "add", "add a zone; prints its id")
        add.add_argument("name")
        add.add_argument("--site", required=True, help="site id")
        add.add_argument("--two-person", action="store_true", help="a tent: two people must scan")
        lockdown = add_action(actions, "lockdown", "only people with the security role may enter")
        lockdown.add_argument("zone")
        lockdown.add_argument("state", choices=("on", "off"))
    else:
        _door_actions(actions)
    return p


def _door_actions(actions) -> None:
    add = add_action(actions, "add", "add a door or station; prints its id")
    add.add_argument("name")
    add.add_argument("--site", required=True, help="site id")
    add.add_argument("--zone", help="zone id: the zone it opens (doors only)")
    add.add_argument("--module-identity", required=True,
                     help="the module identity string the door reports, exactly")
    add.add_argument("--capacity", type=int, required=True, help="templates the module holds")
    add.add_argument("--station", action="store_true", help="an enrolment station, not a door")
    add_action(actions, "show", "one door or station: status, bundle, removals", listing=True).add_argument("device")
    add_action(actions, "delete", "decommission: its token stops working").add_argument("device")
    lockdown = add_action(actions, "lockdown", "only people with the security role may enter")
    lockdown.add_argument("device")
    lockdown.add_argument("state", choices=("on", "off"))


HANDLERS = {"site": _site, "zone": _zone, "door": _door, "pairing-code": _pairing_code}


def main(argv: list[str], prog: str = "doorward server") -> int:
    return run_handler(argv, prog, parser, HANDLERS)
