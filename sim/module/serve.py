"""`doorward sim module` / `python -m doorward.sim.module.r30x`: serve a simulated module until SIGTERM/SIGINT.

Owns the command line, building the module, its pty, the optional control socket and hub
wiring, and the clean-up (symlink and socket removed on exit). The only place in sim/ that
configures logging or installs signal handlers.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from contextlib import ExitStack

from doorward.sim.module.control import ControlServer
from doorward.sim.module.link import PtyBridge
from doorward.sim.module.profiles import PROFILES
from doorward.sim.module.r30x import SimulatedR30x

log = logging.getLogger("doorward.sim.module.r30x")


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Serve a simulated R30x module on a pty."
    )
    parser.add_argument("--model", choices=sorted(PROFILES), default="r307")
    parser.add_argument("--link", required=True, help="symlink to the pty (pyserial opens it)")
    parser.add_argument("--flash", help="JSON file that persists the module's flash")
    parser.add_argument("--control", help="Unix socket path of the JSON-lines control protocol")
    parser.add_argument("--realtime", action="store_true", help="model processing times and baud")
    parser.add_argument("--firmware", help="firmware string (default: the model's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hub", help="Unix socket of the simulated Pi's GPIO hub")
    parser.add_argument("--touch-pin", type=int, help="BCM pin the touch line drives (with --hub)")
    parser.add_argument("--power-pin", type=int, help="BCM pin that powers the module (with --hub)")
    return parser


def _parse(argv: list[str], prog: str) -> argparse.Namespace:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.hub and (args.touch_pin is None or args.power_pin is None):
        parser.error("--hub needs --touch-pin and --power-pin")
    return args


def _start(stack: ExitStack, args: argparse.Namespace) -> SimulatedR30x:
    module = SimulatedR30x(args.model, firmware=args.firmware, seed=args.seed,
                           flash_path=args.flash, realtime=args.realtime)
    stack.enter_context(PtyBridge(module, args.link))
    if args.control:
        stack.enter_context(ControlServer(module, args.control))
    if args.hub:
        from doorward.sim.module.hubwire import HubWiring

        wiring = HubWiring(module, args.hub, args.touch_pin, args.power_pin)
        stack.callback(wiring.close)
    return module


def serve_module(argv: list[str], prog: str) -> int:
    args = _parse(argv, prog)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with ExitStack() as stack:
        try:
            module = _start(stack, args)
        except (OSError, ValueError) as error:
            log.error("%s", error)
            return 1
        log.info("%s (%s) on %s", module.profile.name, module.firmware, args.link)
        stop.wait()
    log.info("stopped; %s removed", args.link)
    return 0
