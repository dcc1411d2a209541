"""The parts of ``install.sh`` that are easier to get right in Python than in bash.

Run by the installer with the system's Python 3.11+ (stdlib only: it runs before the
virtual environment exists, and under ``--root`` for image builders)::

    install_helpers.py relay-line CONFIG          -> prints gpio=17=op,dl (or op,dh)
    install_helpers.py relay-pin CONFIG           -> prints 17: [hardware.relay] pin
    install_helpers.py power-line CONFIG          -> prints gpio=16=op,dh (the module supplied
                                                     from boot), nothing without module_power
    install_helpers.py firmware-block CONFIG_TXT LINE...
                                                  -> rewrites doorward's block if it differs
    install_helpers.py resolve-node ROOT DEVICE   -> prints the real node (/dev/ttyAMA0)

Exit codes: 0 done, 1 nothing to resolve, 2 bad configuration or usage.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from pathlib import Path

BLOCK_BEGIN = "# BEGIN doorward (systemd/install.sh): keep the lock relay de-energised from boot"
BLOCK_END = "# END doorward"
# A block of its own under [all], so no conditional section above ([pi4], [cm4]...) applies to it.
BLOCK_HEAD = ("# docs/wiring.md: the firmware holds the relay pin at its safe level until the",
              "# daemon configures it; strict_gpiod returns a released line to its pull.", "[all]")
MAX_LINK_HOPS = 16


def relay_pin(config_path: Path) -> int:
    pin = _relay(config_path)["pin"]
    if not isinstance(pin, int) or isinstance(pin, bool) or not 0 <= pin <= 27:
        raise ValueError(f"hardware.relay.pin: {pin!r} is not a BCM GPIO number (0-27)")
    return pin


def _relay(config_path: Path) -> dict:
    return tomllib.loads(config_path.read_text(encoding="utf-8"))["hardware"]["relay"]


def relay_line(config_path: Path) -> str:
    """``gpio=N=op,dl`` for an active-high driver, ``op,dh`` for a declared active-low one."""
    relay, pin = _relay(config_path), relay_pin(config_path)
    active = relay.get("active", "high")
    if active == "high":
        return f"gpio={pin}=op,dl"
    if active == "low" and relay.get("active_low_declared") is True:
        return f"gpio={pin}=op,dh"
    raise ValueError("hardware.relay.active: 'low' needs active_low_declared = true "
                     "(docs/wiring.md); run `doorward check-config`")


def power_line(config_path: Path) -> str:
    """``gpio=N=op,dh`` (``op,dl`` when active-low) for ``[hardware.module_power]``: the
    firmware switches the fingerprint module on at power-on, so `doorward pair` and
    `doorward doctor` find it answering before any daemon has driven the pin; "" when the
    module's supply is not switched."""
    hardware = tomllib.loads(config_path.read_text(encoding="utf-8"))["hardware"]
    power = hardware.get("module_power")
    if power is None:
        return ""
    pin, active = power["pin"], power.get("active", "high")
    if not isinstance(pin, int) or isinstance(pin, bool) or not 0 <= pin <= 27:
        raise ValueError(f"hardware.module_power.pin: {pin!r} is not a BCM GPIO number (0-27)")
    if active not in ("high", "low"):
        raise ValueError(f"hardware.module_power.active: {active!r} is not 'high' or 'low'")
    return f"gpio={pin}=op,{'dh' if active == 'high' else 'dl'}"


def firmware_block(text: str, lines: list[str]) -> str:
    """``text`` with doorward's managed block set to ``lines`` (replaced in place, or added
    at the end)."""
    block = [BLOCK_BEGIN, *BLOCK_HEAD, *lines, BLOCK_END]
    current = text.splitlines()
    if BLOCK_BEGIN in current and BLOCK_END in current:
        start, end = current.index(BLOCK_BEGIN), current.index(BLOCK_END)
        current[start:end + 1] = block
    else:
        current += ([""] if current and current[-1].strip() else []) + block
    return "\n".join(current) + "\n"


def conflicting_lines(text: str, lines: list[str]) -> list[str]:
    """Lines outside the block that set one of our pins some other way."""
    pins = {m.group(1) for line in lines if (m := re.match(r"gpio=(\d+)=", line))}
    outside = _outside_block(text.splitlines())
    return [line for line in outside
            if (m := re.match(r"\s*gpio=([\d,-]+)=", line)) and pins & set(m.group(1).split(","))]


def _outside_block(lines: list[str]) -> list[str]:
    if BLOCK_BEGIN in lines and BLOCK_END in lines:
        return lines[:lines.index(BLOCK_BEGIN)] + lines[lines.index(BLOCK_END) + 1:]
    return lines


def resolve_node(root: Path, device: str) -> str | None:
    """Follow ``device``'s symlinks inside ``root`` (absolute targets stay inside it) and
    return the real node as the running system names it, or None when it does not exist."""
    path = "/" + device.lstrip("/")
    for _ in range(MAX_LINK_HOPS):
        inside = root / path.lstrip("/")
        if not inside.is_symlink():
            return os.path.normpath(path) if inside.exists() else None
        target = os.readlink(inside)
        path = target if target.startswith("/") else os.path.join(os.path.dirname(path), target)
    return None


def write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".doorward-new")
    scratch.write_text(text, encoding="utf-8")
    if path.exists():
        os.chmod(scratch, path.stat().st_mode & 0o7777)
    os.replace(scratch, path)  # a power cut leaves the old file or the new one
    return True


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = argv[0], argv[1:]
    try:
        return COMMANDS[command](args)
    except (KeyError, ValueError, OSError, tomllib.TOMLDecodeError) as error:
        print(f"install_helpers {command}: {error}", file=sys.stderr)
        return 2


def _relay_line(args: list[str]) -> int:
    print(relay_line(Path(args[0])))
    return 0


def _relay_pin(args: list[str]) -> int:
    print(relay_pin(Path(args[0])))
    return 0


def _power_line(args: list[str]) -> int:
    print(power_line(Path(args[0])))
    return 0


def _firmware_block(args: list[str]) -> int:
    path, lines = Path(args[0]), args[1:]
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    for line in conflicting_lines(text, lines):
        print(f"warning: {path}: {line.strip()!r} also sets the relay pin; remove it",
              file=sys.stderr)
    print("changed" if write_if_changed(path, firmware_block(text, lines)) else "unchanged")
    return 0


def _resolve_node(args: list[str]) -> int:
    node = resolve_node(Path(args[0]), args[1])
    if node is None:
        return 1
    print(node)
    return 0


COMMANDS = {"relay-line": _relay_line, "relay-pin": _relay_pin, "power-line": _power_line,
            "firmware-block": _firmware_block,
            "resolve-node": _resolve_node}

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
