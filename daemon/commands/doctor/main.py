"""``doorward doctor``: a checklist of everything that keeps a door working, with the fix for
each failure.

    doorward doctor [--config PATH] [--click-relay] [--configure-module]

Checks read the system through ``SystemProbe`` and talk to hardware through ``Plugins``
(``daemon/commands/doctor/system.py``, ``daemon/commands/doctor/hardware.py``); ``run_doctor`` takes both, so
tests feed fixture trees and fakes. Exit code 0 only when nothing failed (warnings, "not a
Pi" and skipped checks do not fail). Default plugins import the driver, GPIO, credential,
binding and clock modules lazily, when a check needs them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from doorward.daemon.config.loader import CONFIG_PATH_ENV, default_config_path, load_config
from doorward.daemon.commands.doctor.system import SYSTEM_CHECKS, DoctorContext
from doorward.daemon.commands.doctor.hardware import (
    DoorSecrets, Plugins, check_inputs, check_module, check_relay_level, click_relay,
    configure_module,
)  # fmt: skip
from doorward.daemon.commands.doctor.probe import (
    CheckResult, Status, SystemProbe, board_model, fail, ok, skipped,
)  # fmt: skip
from doorward.daemon.errors import ConfigError

CREDSTORE_PATH = "/etc/credstore.encrypted/doorward-door"
MARKS = {Status.OK: "[ ok ]", Status.WARN: "[warn]", Status.FAIL: "[FAIL]",
         Status.NOT_A_PI: "[ -- ]", Status.SKIPPED: "[skip]"}


def build_context(config_path: Path, probe: SystemProbe, plugins: Plugins) -> tuple[DoctorContext, CheckResult]:
    """The context for every check, and the configuration check's own result."""
    context = DoctorContext(probe=probe, hardware=None, is_pi=board_model(probe) is not None,
                            plugins=plugins)
    try:
        config = load_config(config_path)
    except ConfigError as error:
        return context, fail("configuration", str(error).splitlines()[0],
                             f"`doorward check-config --config {config_path}` lists every problem")
    _apply_config(context, config)
    return context, ok("configuration", f"{config_path} is valid")


def _apply_config(context: DoctorContext, config: Any) -> None:
    context.hardware = config.hardware
    module, server, storage, clock = (getattr(config, n, None)
                                      for n in ("module", "server", "storage", "clock"))
    if clock is not None:
        context.assume_synchronised = clock.assume_synchronised
    if module is not None:
        context.serial_device, context.baud = module.url, module.baud
    if storage is not None:
        context.state_dir = str(storage.state_dir)
    plain = [server.credential] if server is not None else []
    context.credential_paths = (CREDSTORE_PATH, *plain)
    context.ca_file = server.ca_file if server is not None else None


def run_doctor(context: DoctorContext, first: CheckResult, *, click: bool = False,
               configure: bool = False) -> list[CheckResult]:
    if configure:
        return [first, *(check(context) for check in SYSTEM_CHECKS[:1]), configure_module(context)]
    results = [first, *(check(context) for check in SYSTEM_CHECKS)]
    results += check_module(context)
    results += [check_relay_level(context), *check_inputs(context)]
    if click:
        results.append(click_relay(context))
    results.append(_plugged("server reachable, key pinned", context.plugins.server_check, context))
    results.append(_plugged("journal health", context.plugins.journal_check, context))
    return results


def _plugged(name: str, check: Any, context: DoctorContext) -> CheckResult:
    if check is None:
        return skipped(name, "not wired into doctor in this build")
    return check(context)


def print_checklist(results: list[CheckResult], out: TextIO) -> None:
    for result in results:
        print(f"{MARKS[result.status]} {result.name}: {result.detail}", file=out)
        if result.fix and result.status in (Status.FAIL, Status.WARN):
            print(f"       fix: {result.fix}", file=out)
    failed = sum(result.status is Status.FAIL for result in results)
    print(f"\n{failed} failed, {sum(r.status is Status.WARN for r in results)} warnings",
          file=out)


def exit_code(results: list[CheckResult]) -> int:
    return 1 if any(result.status is Status.FAIL for result in results) else 0


# ---- the default plugins: the real edges, imported only when a check uses them ----------


def _open_sensor(url: str, baud: int, password: int) -> Any:
    from doorward.drivers.r30x.sensor import R30xSensor

    sensor = R30xSensor.from_url(url, baud=baud, password=password)
    try:
        sensor.open()
    except BaseException:
        sensor.close()
        raise
    return sensor


def _door_credentials(context: DoctorContext) -> Any:
    """The door's credential: the encrypted systemd one (only root can decrypt it), else
    the plain file; None when the door is not paired."""
    from doorward.daemon.storage.credentials import CredentialError, Credentials, load_credentials

    for path in context.credential_paths:
        try:
            if path == CREDSTORE_PATH:
                decrypted = context.probe.run("systemd-creds", "decrypt", "--name=doorward-door",
                                              path, "-")
                if decrypted is None or decrypted.returncode != 0:
                    continue
                return Credentials.from_json(decrypted.stdout.encode(), path)
            return load_credentials(Path(path))
        except CredentialError:
            continue
    return None


def _door_secrets(context: DoctorContext) -> DoorSecrets | None:
    found = _door_credentials(context)
    return None if found is None else DoorSecrets(found.module_password, found.binding_token_bytes())


def _check_binding(sensor: Any, password: int, token: bytes) -> Any:
    from doorward.daemon.reader.binding import check_binding

    return check_binding(sensor, password, token)


def _clock_synchronised(context: DoctorContext) -> bool | None:
    try:
        from doorward.daemon.controller.clock import SystemClock

        return SystemClock().kernel_synchronised()
    except (ImportError, OSError, AttributeError):
        result = context.probe.run("timedatectl", "show", "-p", "NTPSynchronized", "--value")
        return None if result is None else result.stdout.strip() == "yes"


def _open_gpio(hardware: Any) -> Any:
    from doorward.drivers.gpio import open_gpio

    return open_gpio(hardware.backend(), client="doorward-doctor")


def default_plugins() -> Plugins:
    from doorward.daemon.commands.doctor.sync import journal_check, server_check

    return Plugins(open_sensor=_open_sensor, door_secrets=_door_secrets,
                   check_binding=_check_binding, clock_synchronised=_clock_synchronised,
                   open_gpio=_open_gpio, server_check=server_check(_door_credentials),
                   journal_check=journal_check)


def doctor(argv: list[str], probe: SystemProbe | None = None,
           plugins: Plugins | None = None, out: TextIO = sys.stdout) -> int:
    args = _parser().parse_args(argv)
    context, first = build_context(args.config or default_config_path(),
                                   probe or SystemProbe(), plugins or default_plugins())
    results = run_doctor(context, first, click=args.click_relay, configure=args.configure_module)
    print_checklist(results, out)
    return exit_code(results)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="doorward doctor",
                                     description="Check this door's installation and hardware.")
    parser.add_argument("--config", type=Path, default=None,
                        help=f"configuration file (default: ${CONFIG_PATH_ENV}, "
                             "else /etc/doorward/doorward.toml)")
    parser.add_argument("--click-relay", action="store_true",
                        help="energise the relay for half a second (the door unlocks briefly)")
    parser.add_argument("--configure-module", action="store_true",
                        help="set the module to 115,200 baud and 256-byte packets, once")
    return parser


if __name__ == "__main__":
    sys.exit(doctor(sys.argv[1:]))
