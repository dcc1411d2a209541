"""``doorward doctor``'s checks of the installed system: the files, the unit and the board.

Each check takes a ``DoctorContext`` and returns ``CheckResult``s; it reads only through
``context.probe`` (``daemon/commands/doctor/probe.py``), so a fixture tree stands in for the Pi. A
check that only means something on a Pi says "not a Pi" elsewhere instead of failing.
Imports no GPIO, serial or network library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from doorward.daemon.commands.doctor.probe import (
    CheckResult, SystemProbe, effective, fail, not_a_pi, ok, skipped, unit_lines, warn,
)  # fmt: skip
from doorward.daemon.config.hardware import HardwareConfig

INSTALL_FIX = "run `sudo systemd/install.sh --role door` again (docs/install.md)"
CREDENTIAL_PATHS = ("/etc/credstore.encrypted/doorward-door",)
THROTTLED_NOW = {0: "under-voltage now", 1: "ARM frequency capped now", 2: "throttled now",
                 3: "soft temperature limit now"}
THROTTLED_SINCE_BOOT = {16: "under-voltage", 17: "frequency capping", 18: "throttling",
                        19: "soft temperature limit"}
MIN_FREE_BYTES, LOW_FREE_BYTES = 64 * 2**20, 512 * 2**20


@dataclass
class DoctorContext:
    """What every check may use; tests build one from fixtures."""

    probe: SystemProbe
    hardware: HardwareConfig | None
    is_pi: bool
    serial_device: str = "/dev/serial0"
    baud: int = 57600
    unit: str = "doorward.service"
    state_dir: str = "/var/lib/doorward"
    credential_paths: tuple[str, ...] = CREDENTIAL_PATHS
    assume_synchronised: bool = False  # [clock]: the daemon trusts the clock whatever it is
    ca_file: str | None = None  # [server] ca_file: a private CA the door's sync uses too
    plugins: Any = None  # doctor_hardware.Plugins: module, GPIO, pairing, sync, journal, clock
    notes: dict[str, Any] = field(default_factory=dict)  # results later checks build on


def check_serial_port(context: DoctorContext) -> CheckResult:
    name, device = "serial port", context.serial_device
    node = context.probe.resolve(device)
    if node is None:
        if not context.is_pi:
            return not_a_pi(name)
        return fail(name, f"{device} does not exist",
                    "enable the UART: `sudo raspi-config nonint do_serial_hw 0`, reboot "
                    "(docs/install.md#1-enable-the-uart-and-free-it-from-the-serial-console)")
    context.notes["uart_node"] = node
    info = context.probe.info(node)
    if info is None or info.mode & 0o060 != 0o060:
        return fail(name, f"{device} -> {node} is not read-write for its group",
                    "restore the udev defaults (crw-rw---- root:dialout) or reboot")
    if not _service_gets_group(context, info.group):
        return fail(name, f"{node} belongs to group {info.group}, which the service lacks",
                    f"add `{info.group}` to SupplementaryGroups= or `usermod -aG "
                    f"{info.group} doorward`")
    return ok(name, f"{device} -> {node} ({info.group}, mode {info.mode:o})")


def _service_gets_group(context: DoctorContext, group: str) -> bool:
    settings = unit_lines(context.probe, context.unit) or []
    granted = {g for value in effective(settings, "SupplementaryGroups") for g in value.split()}
    return group in granted or "doorward" in context.probe.group_members(group)


def check_serial_console(context: DoctorContext) -> CheckResult:
    name = "UART free of the serial console"
    if not context.is_pi:
        return not_a_pi(name)
    cmdline = context.probe.read("proc/cmdline") or ""
    consoles = re.findall(r"console=(serial0|ttyAMA\d+|ttyS\d+)", cmdline)
    if consoles:
        return fail(name, f"the kernel console is on {consoles[0]}: it talks over the module",
                    "`sudo raspi-config nonint do_serial_cons 1`, then reboot")
    return ok(name, "no kernel console on the UART")


def check_firmware_lines(context: DoctorContext) -> CheckResult:
    name = "relay held safe from boot (config.txt)"
    if not context.is_pi:
        return not_a_pi(name)
    if context.hardware is None:
        return skipped(name, "needs a valid configuration")
    relay = context.hardware.relay
    wanted = f"gpio={relay.pin}=op,{'dl' if relay.safe_level == 0 else 'dh'}"
    path, text = _firmware_config(context.probe)
    active = _unconditional_lines(text)
    missing = [line for line in (wanted, "dtparam=strict_gpiod") if line not in active]
    if missing:
        return fail(name, f"{path} lacks {' and '.join(missing)} (or has them under a "
                          "[model] filter)", f"{INSTALL_FIX}, then reboot")
    return ok(name, f"{path}: {wanted}, dtparam=strict_gpiod")


def _firmware_config(probe: SystemProbe) -> tuple[str, str]:
    for path in ("/boot/firmware/config.txt", "/boot/config.txt"):
        text = probe.read(path)
        if text is not None:
            return path, text
    return "/boot/firmware/config.txt", ""


def _unconditional_lines(text: str) -> set[str]:
    """Lines that apply on every board: outside any [filter] section, or under [all]."""
    lines, applies = set(), True
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("["):
            applies = line == "[all]"
        elif line and applies:
            lines.add(line.replace(" ", ""))
    return lines


def check_stop_hook(context: DoctorContext) -> CheckResult:
    name = "stop hook runs doorward relay-safe"
    settings = unit_lines(context.probe, context.unit)
    if settings is None:
        if not context.is_pi:
            return not_a_pi(name)
        return fail(name, f"{context.unit} is not installed", INSTALL_FIX)
    hooks = effective(settings, "ExecStopPost")
    if not any(re.search(r"\bdoorward relay-safe\b", hook) for hook in hooks):
        return fail(name, f"{context.unit} has no ExecStopPost= running `doorward relay-safe` "
                          "(a drop-in may reset it)", INSTALL_FIX)
    return ok(name, f"ExecStopPost={hooks[-1]}")


def check_uart_dropin(context: DoctorContext) -> CheckResult:
    name = "unit may open the UART"
    node = context.notes.get("uart_node")
    settings = unit_lines(context.probe, context.unit)
    if settings is None or node is None:
        return not_a_pi(name) if not context.is_pi else skipped(
            name, "needs the installed unit and the serial port")
    allowed = [value.split()[0] for value in effective(settings, "DeviceAllow") if value]
    if node not in allowed:
        return fail(name, f"DeviceAllow= does not name {node} (it has {', '.join(allowed)})",
                    f"{INSTALL_FIX}: it writes {context.unit}.d/50-uart.conf")
    return ok(name, f"DeviceAllow={node} rw")


def check_throttling(context: DoctorContext) -> CheckResult:
    name = "power supply (vcgencmd get_throttled)"
    if not context.is_pi:
        return not_a_pi(name)
    result = context.probe.run("vcgencmd", "get_throttled")
    match = re.search(r"throttled=(0x[0-9a-fA-F]+)", result.stdout if result else "")
    if match is None:
        return warn(name, "vcgencmd did not answer", "`sudo apt install libraspberrypi-bin`")
    flags = int(match.group(1), 16)
    now = [text for bit, text in THROTTLED_NOW.items() if flags >> bit & 1]
    since = [text for bit, text in THROTTLED_SINCE_BOOT.items() if flags >> bit & 1]
    supply_fix = "use the official 5 V supply (5.1 V, 3 A or more); keep the lock on its own supply"
    if now:
        return fail(name, f"{', '.join(now)} ({match.group(1)})", supply_fix)
    if since:
        return warn(name, f"since boot: {', '.join(since)} ({match.group(1)})", supply_fix)
    return ok(name, "no under-voltage or throttling since boot")


def check_storage(context: DoctorContext) -> CheckResult:
    name = "storage for the state"
    mount = _mount_of(context.probe, context.state_dir)
    if mount is None:
        return warn(name, f"cannot tell which file system holds {context.state_dir}",
                    "check `findmnt -T /var/lib/doorward`")
    device, fstype, options = mount
    if fstype in ("tmpfs", "overlay", "ramfs") or "ro" in options.split(","):
        return fail(name, f"{context.state_dir} is on {fstype} ({options.split(',')[0]}): the "
                          "journal and cache would not survive a reboot",
                    "give /var/lib/doorward a persistent read-write mount (docs/install.md#5-storage)")
    if "mmcblk" in device:
        return warn(name, f"SD card ({device}, {fstype})",
                    "use a high-endurance card or an SSD (docs/install.md#5-storage)")
    return ok(name, f"{device} ({fstype})")


def _mount_of(probe: SystemProbe, path: str) -> tuple[str, str, str] | None:
    best: tuple[str, str, str] | None = None
    best_length = -1
    for line in (probe.read("proc/self/mounts") or "").splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        point = fields[1].rstrip("/") + "/"
        if (path.rstrip("/") + "/").startswith(point) and len(point) > best_length:
            best, best_length = (fields[0], fields[2], fields[3]), len(point)
    return best


def check_free_disk(context: DoctorContext) -> CheckResult:
    name = "free disk"
    usage = context.probe.disk_usage(context.state_dir) or context.probe.disk_usage("/")
    if usage is None:
        return warn(name, f"cannot read the free space of {context.state_dir}", "`df -h`")
    total, free = usage
    detail = f"{free / 2**20:.0f} MiB free of {total / 2**20:.0f} MiB"
    fix = "free space (`sudo journalctl --vacuum-size=100M`) or use a larger card"
    if free < MIN_FREE_BYTES:
        return fail(name, detail, fix)
    if free < LOW_FREE_BYTES:
        return warn(name, detail, fix)
    return ok(name, detail)


def check_credential(context: DoctorContext) -> CheckResult:
    name = "door credential"
    for path in context.credential_paths:
        info = context.probe.info(path)
        if info is None:
            continue
        if info.mode & 0o077 or info.owner not in ("root", "doorward"):
            return fail(name, f"{path} is {info.owner}:{info.group} mode {info.mode:o}",
                        f"`sudo chown root:root {path} && sudo chmod 0600 {path}`")
        return ok(name, f"{path} ({info.owner}, mode {info.mode:o})")
    return fail(name, "the door is not paired: no credential in "
                      f"{', '.join(context.credential_paths)}",
                "pair it: `sudo doorward pair --systemd-creds ...` (docs/install.md#4-pair)")


def check_clock(context: DoctorContext) -> CheckResult:
    name = "clock synchronised"
    synchronised = context.plugins.clock_synchronised(context) if context.plugins else None
    if synchronised is None:
        return warn(name, "cannot read the kernel's sync status", "`timedatectl status`")
    if not synchronised and context.assume_synchronised:  # what the daemon and status do
        return warn(name, "the kernel clock is not synchronised, but [clock] "
                          "assume_synchronised = true makes the daemon trust it (labs and CI "
                          "only: unsafe at a real door)",
                    "enable NTP (`sudo timedatectl set-ntp true`) or fit an RTC, then set "
                    "assume_synchronised = false")
    if not synchronised:
        return fail(name, "the kernel clock is not synchronised: time-windowed grants follow "
                          "the untrusted-clock policy",
                    "enable NTP (`sudo timedatectl set-ntp true`) or fit an RTC")
    return ok(name, "the kernel reports the clock synchronised")


SYSTEM_CHECKS: tuple[Callable[[DoctorContext], CheckResult], ...] = (
    check_serial_port, check_serial_console, check_firmware_lines, check_stop_hook,
    check_uart_dropin, check_throttling, check_storage, check_free_disk, check_credential,
    check_clock,
)
