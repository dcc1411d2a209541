"""`doorward sim ...`: run simulated hardware. Loaded only when the group is invoked."""

from __future__ import annotations

import importlib

import doorward.daemon.dispatch as dispatch

COMMANDS: dict[str, tuple[str, str]] = {
    "module": ("doorward.sim.module.r30x", "serve a simulated R30x module on a pty until killed"),
    "hub": ("doorward.sim.pi.hub", "run the simulated Pi's GPIO hub on a Unix socket until killed"),
}


def main(argv: list[str], prog: str = "doorward sim") -> int:
    chosen = dispatch.choose(argv, prog, COMMANDS, dispatch.usage(prog, [("commands:", COMMANDS)]))
    if isinstance(chosen, int):
        return chosen
    name, rest = chosen
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest, prog=f"{prog} {name}") or 0)
