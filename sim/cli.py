"""`doorward sim ...`: run simulated hardware. Loaded only when the group is invoked."""

from __future__ import annotations

import importlib

COMMANDS: dict[str, tuple[str, str]] = {
    "module": ("doorward.sim.module.r30x", "serve a simulated R30x module on a pty until killed"),
    "hub": ("doorward.sim.pi.hub", "run the simulated Pi's GPIO hub on a Unix socket until killed"),
}


def usage(prog: str) -> str:
    lines = [f"usage: {prog} COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<8} {help_text}" for name, (_, help_text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str], prog: str = "doorward sim") -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(prog))
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"{prog}: unknown command {name!r}\n\n{usage(prog)}")
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest, prog=f"{prog} {name}") or 0)
