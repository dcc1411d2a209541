"""The simulated door's configuration, written from data: the one writer the demo, the tests
and the benchmarks use, in the schema a Pi's ``/etc/doorward/doorward.toml`` has
(docs/configuration.md).

Owns the simulated Pi's wiring (``PINS``: the BCM pins of docs/wiring.md), ``hardware`` (the
``[hardware]`` table and its inputs and outputs), ``door`` (a whole door: hardware, module,
server, clock, storage, daemon), ``station`` (an enrolment kiosk: module, server and storage,
no door hardware) and ``write_toml``. Every function returns plain dicts, so a caller changes a
key by changing the dict, never by editing text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

Config = dict[str, Any]

PINS = {"relay": 17, "door_contact": 27, "exit_button": 22, "fire_alarm": 23, "module_touch": 5,
        "module_power": 16, "status_led": 12, "buzzer": 13}
# How each input reads when active: the contact opens high, the button pulls low.
INPUT_ACTIVE = {"door_contact": "high", "exit_button": "low", "fire_alarm": "high",
                "module_touch": "low"}


def hardware(hub_socket: str | Path, *, hub_timeout_s: float | None = None, debounce_ms: int = 20,
             relay_pin: int = PINS["relay"], relay_active_low: bool = False,
             outputs: tuple[str, ...] = ("module_power",),
             inputs: tuple[str, ...] = tuple(INPUT_ACTIVE)) -> Config:  # fmt: skip
    """``[hardware]`` for the simulated Pi's hub: a fail-secure relay, the inputs, the outputs."""
    table: Config = {"gpio_backend": "sim", "hub_socket": str(hub_socket)}
    if hub_timeout_s is not None:
        table["hub_timeout_s"] = hub_timeout_s
    table |= {"debounce_ms": debounce_ms, "lock_type": "fail_secure"}
    relay: Config = {"pin": relay_pin}
    if relay_active_low:
        relay |= {"active": "low", "active_low_declared": True}
    table["relay"] = relay
    for name in inputs:
        table[name] = {"pin": PINS[name], "active": INPUT_ACTIVE[name]}
    for name in outputs:
        table[name] = {"pin": PINS[name]}
    return table


def door(hub_socket: str | Path, link: str | Path, credential: str | Path, state_dir: str | Path, *,
         module_timeout_s: float | None = None, long_poll_s: float = 10.0,
         power_cycle_after_s: float | None = None, **hardware_options: Any) -> Config:  # fmt: skip
    """A whole simulated door: its hardware, an R503 on ``link``, the lab clock, fast status."""
    module: Config = {"url": str(link), "model": "r503"}
    if module_timeout_s is not None:
        module["timeout_s"] = module_timeout_s
    daemon: Config = {"status_interval_s": 0.2}
    if power_cycle_after_s is not None:
        daemon["power_cycle_after_s"] = power_cycle_after_s
    return {
        "hardware": hardware(hub_socket, **hardware_options),
        "module": module,
        "server": {"credential": str(credential), "request_deadline_s": 3.0, "long_poll_s": long_poll_s},
        "clock": {"assume_synchronised": True},  # labs and CI only: the sandbox's kernel may not say
        "storage": {"state_dir": str(state_dir)},
        "daemon": daemon,
    }


def station(link: str | Path, credential: str | Path, state_dir: str | Path) -> Config:
    """An enrolment kiosk: all that ``doorward pair``, ``enrol`` and ``kiosk`` read."""
    return {"module": {"url": str(link), "model": "r503"}, "server": {"credential": str(credential)},
            "storage": {"state_dir": str(state_dir)}}


def write_toml(path: Path, config: Config, heading: str = "") -> Path:
    """``config`` as TOML at ``path``, under a ``# heading`` comment when given."""
    comment = "".join(f"# {line}\n" for line in heading.splitlines())
    path.write_text(comment + tomli_w.dumps(config))
    return path
