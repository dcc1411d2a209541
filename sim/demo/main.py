"""``make demo`` / ``doorward demo``: a whole site on one machine, a scripted day in a minute.

    doorward demo [--json] [--interactive] [--keep DIR]

Starts, as separate processes on 127.0.0.1 and Unix sockets in a temporary directory, the
reference server, two simulated doors (each a simulated Pi's GPIO hub, an R503 on a pty and
``doorward run`` from a TOML file of the schema a Pi uses) and the enrolment kiosk's module;
sets the site up as an admin would (``sim/rig/site.py``); plays the day and prints it as a
timeline (``sim/demo/day.py``). Exit 0 when every step happened as scripted, 1 otherwise
(with the last lines of the failing process's log). Every process it started is stopped on
the way out, also on Ctrl-C, SIGTERM and failure. ``--json`` prints the timeline as JSON
lines; ``--interactive`` keeps the site running afterwards and takes fingers from the
terminal (``sim/demo/interactive.py``); ``--keep DIR`` works in DIR and leaves the logs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from doorward.sim.rig.processes import DemoError, raise_on_sigterm
from doorward.sim.demo.timeline import Timeline
from doorward.daemon.commands.arguments import parser_for


def parser() -> argparse.ArgumentParser:
    p = parser_for("doorward demo", __doc__)
    p.add_argument("--json", action="store_true", help="print the timeline as JSON lines")
    p.add_argument("--interactive", action="store_true",
                   help="after the day, keep running and place fingers from the terminal")
    p.add_argument("--keep", type=Path, default=None,
                   help="work in this directory and keep the logs (default: a temporary one)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    raise_on_sigterm()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(args, args.keep)
    # A short prefix: the Unix sockets inside must stay under 107 bytes.
    with tempfile.TemporaryDirectory(prefix="dw-demo-", dir="/tmp") as directory:
        return run(args, Path(directory))


def run(args: argparse.Namespace, directory: Path) -> int:
    from doorward.sim.demo.day import play_day
    from doorward.sim.rig.site import DemoSite

    timeline = Timeline(json_lines=args.json)
    site = DemoSite(directory, timeline)
    try:
        timeline.heading("Setting up the site (server, doors, kiosk)")
        site.build()
        play_day(site)
        if args.interactive:
            from doorward.sim.demo.interactive import interact

            interact(site)
        timeline.event("done", f"the day played as scripted in {timeline.elapsed_s():.0f} s; "
                       "stopping every process")
        return 0
    except DemoError as error:
        timeline.event("failed", f"demo failed: {error}")
        _print_logs(site)
        return 1
    except KeyboardInterrupt:
        timeline.event("interrupted", "interrupted: stopping every process")
        return 130
    finally:
        site.close()


def _print_logs(site) -> None:  # noqa: ANN001 - DemoSite
    for name in site.processes.logs:
        tail = site.processes.tail(name, 15)
        if tail:
            print(f"\n--- {name} (last lines) ---\n{tail}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
