"""``doorward doctor`` against fixture trees: a healthy Pi, each failure with its fix, and a
machine that is not a Pi. Files come from a temporary root, commands from canned output, the
module and GPIO from fakes; nothing touches this machine's hardware."""

from __future__ import annotations

import io
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from doorward.daemon.commands.doctor.main import build_context, doctor, exit_code, run_doctor
from doorward.daemon.commands.doctor.hardware import DoorSecrets, Plugins
from doorward.daemon.commands.doctor.probe import CommandResult, Status, SystemProbe
from doorward.daemon.commands.doctor.system import DoctorContext
from doorward.drivers.r30x.errors import Timeout

ROOT = Path(__file__).resolve().parents[2]
HEALTHY_COMMANDS = {
    "vcgencmd get_throttled": "throttled=0x0",
    "pinctrl get 17": " 17: op -- pd | lo // GPIO17 = output",
    "pinctrl get 27": " 27: ip    pu | lo // GPIO27 = input",
    "pinctrl get 22": " 22: ip    pu | hi // GPIO22 = input",
    "systemctl is-active doorward.service": "inactive",
}
BLOCK = "[all]\ngpio=17=op,dl\ndtparam=strict_gpiod\n"


@dataclass
class FakeParams:
    capacity: int = 200
    packet_size: int = 128
    baud: int = 57600


@dataclass
class FakeSensor:
    params: FakeParams = field(default_factory=FakeParams)
    settings: list[tuple[int, int]] = field(default_factory=list)

    def module_identity(self) -> str:
        return "r503/fw-1.2"

    def set_system_parameter(self, number: int, value: int) -> None:
        self.settings.append((number, value))

    def __enter__(self) -> FakeSensor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class Bound:
    name, value = "BOUND", "bound"


class Foreign:
    name, value = "FOREIGN", "foreign_or_swapped"


@dataclass
class FakeGpio:
    calls: list[tuple] = field(default_factory=list)
    levels: dict[int, int] = field(default_factory=dict)  # what read() sees before a setup

    def read(self, pin: int) -> int:
        return self.levels.get(pin, 0)

    def setup_output(self, pin: int, level: int) -> None:
        self.calls.append(("setup", pin, level))

    def write(self, pin: int, level: int) -> None:
        self.calls.append(("write", pin, level))

    def close(self) -> None:
        self.calls.append(("close",))


class Machine:
    """A fixture Pi: its file tree, its commands' output, its module and pins."""

    def __init__(self, root: Path) -> None:
        self.root, self.commands = root, dict(HEALTHY_COMMANDS)
        self.sensor, self.gpio = FakeSensor(), FakeGpio()
        self.sensor_error: Exception | None = None
        self.binding, self.synchronised = Bound(), True
        self.secrets: DoorSecrets | None = DoorSecrets(0x1234, b"token")
        self.config = root / "doorward.toml"
        self.config.write_text((ROOT / "docs/doorward.example.toml").read_text()
                               .replace('"sim"', '"rpi"').replace("hub_socket =", "# hub_socket ="))

    def write(self, path: str, text: str, mode: int = 0o644) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)

    def run(self, argv: list[str]) -> CommandResult | None:
        output = self.commands.get(" ".join(argv))
        return None if output is None else CommandResult(0, output)

    def open_sensor(self, url: str, baud: int, password: int) -> FakeSensor:
        if self.sensor_error:
            raise self.sensor_error
        return self.sensor

    def plugins(self) -> Plugins:
        return Plugins(open_sensor=self.open_sensor, door_secrets=lambda _c: self.secrets,
                       check_binding=lambda *_a: self.binding,
                       clock_synchronised=lambda _c: self.synchronised,
                       open_gpio=lambda _h: self.gpio, sleep=lambda _s: None)

    def doctor(self, *flags: str) -> tuple[int, str]:
        out = io.StringIO()
        code = doctor(["--config", str(self.config), *flags], SystemProbe(self.root, self.run),
                      self.plugins(), out)
        return code, out.getvalue()

    def results(self, click: bool = False) -> dict[str, object]:
        context, first = build_context(self.config, SystemProbe(self.root, self.run), self.plugins())
        return {r.name: r for r in run_doctor(context, first, click=click)}


@pytest.fixture
def pi(tmp_path: Path) -> Machine:
    machine = Machine(tmp_path)
    machine.write("proc/device-tree/model", "Raspberry Pi 4 Model B Rev 1.4\x00")
    machine.write("etc/passwd", f"root:x:{os.getuid()}:0::/root:/bin/sh\n")
    machine.write("etc/group", f"dialout:x:{os.getgid()}:doorward\n")
    machine.write("dev/ttyAMA0", "", 0o660)
    (tmp_path / "dev/serial0").symlink_to("ttyAMA0")
    machine.write("proc/cmdline", "console=tty1 root=PARTUUID=1234-02 rootwait\n")
    machine.write("boot/firmware/config.txt", "[pi4]\narm_boost=1\n" + BLOCK)
    unit_dir = tmp_path / "etc/systemd/system"
    unit_dir.mkdir(parents=True)
    shutil.copy(ROOT / "systemd/doorward.service", unit_dir)
    machine.write("etc/systemd/system/doorward.service.d/50-uart.conf",
                  "[Service]\nDeviceAllow=/dev/ttyAMA0 rw\n")
    machine.write("proc/self/mounts", "/dev/nvme0n1p2 / ext4 rw,noatime 0 0\n")
    machine.write("etc/credstore.encrypted/doorward-door", "sealed", 0o600)
    return machine


def test_a_healthy_pi_passes_with_exit_code_0(pi: Machine) -> None:
    code, text = pi.doctor()
    assert code == 0, text
    statuses = {name: r.status for name, r in pi.results().items()}
    allowed_skips = {"server reachable, key pinned", "journal health"}
    assert {n for n, s in statuses.items() if s is not Status.OK} == allowed_skips
    assert "[ ok ] fingerprint module answers: r503/fw-1.2, 200 slots" in text
    assert "door contact (live): reads closed" in text
    assert "exit button (live): reads released" in text


def _console(pi: Machine) -> None:
    pi.write("proc/cmdline", "console=serial0,115200 console=tty1\n")


def _strict_under_filter(pi: Machine) -> None:
    pi.write("boot/firmware/config.txt", "[pi4]\ndtparam=strict_gpiod\n[all]\ngpio=17=op,dl\n")


FAILURES: dict[str, tuple[Callable[[Machine], None], str, str]] = {
    "no UART": (lambda pi: (pi.root / "dev/serial0").unlink(), "serial port", "do_serial_hw 0"),
    "serial console": (_console, "UART free of the serial console", "do_serial_cons 1"),
    "no firmware lines": (lambda pi: pi.write("boot/firmware/config.txt", "[pi4]\n"),
                          "relay held safe from boot (config.txt)", "install.sh"),
    "strict_gpiod under [pi4]": (_strict_under_filter, "relay held safe from boot (config.txt)",
                                 "install.sh"),
    "stop hook reset": (lambda pi: pi.write("etc/systemd/system/doorward.service.d/90-x.conf",
                                            "[Service]\nExecStopPost=\n"),
                        "stop hook runs doorward relay-safe", "install.sh"),
    "drop-in names another node": (
        lambda pi: pi.write("etc/systemd/system/doorward.service.d/50-uart.conf",
                            "[Service]\nDeviceAllow=/dev/ttyS0 rw\n"),
        "unit may open the UART", "50-uart.conf"),
    "under-voltage": (lambda pi: pi.commands.update({"vcgencmd get_throttled": "throttled=0x50005"}),
                      "power supply (vcgencmd get_throttled)", "5 V supply"),
    "state on tmpfs": (lambda pi: pi.write("proc/self/mounts", "/dev/root / ext4 rw 0 0\n"
                                           "tmpfs /var/lib/doorward tmpfs rw 0 0\n"),
                       "storage for the state", "persistent read-write mount"),
    "credential readable by others": (
        lambda pi: (pi.root / "etc/credstore.encrypted/doorward-door").chmod(0o644),
        "door credential", "chmod 0600"),
    "not paired": (lambda pi: (pi.root / "etc/credstore.encrypted/doorward-door").unlink(),
                   "door credential", "doorward pair --systemd-creds"),
    "clock not synchronised": (lambda pi: setattr(pi, "synchronised", False),
                               "clock synchronised", "timedatectl set-ntp true"),
    "relay energised with no daemon": (
        lambda pi: pi.commands.update({"pinctrl get 17": " 17: op -- pd | hi // GPIO17"}),
        "relay pin level now", "doorward relay-safe"),
    "module silent": (lambda pi: setattr(pi, "sensor_error", Timeout("no reply")),
                      "fingerprint module answers", "the wiring (Pi TXD"),
    "module swapped": (lambda pi: setattr(pi, "binding", Foreign()),
                       "module bound to this door (password and notepad)", "re-pair"),
    "bad config": (lambda pi: pi.config.write_text("[hardware]\nlock_type = 1\n"),
                   "configuration", "doorward check-config"),
}


@pytest.mark.parametrize("case", FAILURES)
def test_each_failure_is_reported_with_its_fix(pi: Machine, case: str) -> None:
    break_it, name, fix = FAILURES[case]
    break_it(pi)
    result = pi.results()[name]
    assert result.status is Status.FAIL, result
    assert fix in result.fix
    code, text = pi.doctor()
    assert code == 1 and f"[FAIL] {name}:" in text and f"fix: {result.fix}" in text


def test_recent_under_voltage_is_a_warning(pi: Machine) -> None:
    pi.commands["vcgencmd get_throttled"] = "throttled=0x50000"
    assert pi.results()["power supply (vcgencmd get_throttled)"].status is Status.WARN
    assert pi.doctor()[0] == 0


def test_a_machine_that_is_not_a_pi_says_so_instead_of_failing(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    machine.secrets = None
    machine.write("etc/passwd", f"root:x:{os.getuid()}:0::/root:/bin/sh\n")
    machine.write("etc/credstore.encrypted/doorward-door", "sealed", 0o600)
    results = machine.results(click=True)
    pi_only = ["serial port", "UART free of the serial console", "stop hook runs doorward relay-safe",
               "relay held safe from boot (config.txt)", "unit may open the UART",
               "power supply (vcgencmd get_throttled)", "relay pin level now",
               "door contact (live)", "exit button (live)", "relay click test"]
    assert {name: results[name].status for name in pi_only} == dict.fromkeys(pi_only, Status.NOT_A_PI)
    assert exit_code(list(results.values())) == 0


def test_click_relay_energises_briefly_and_ends_safe(pi: Machine) -> None:
    assert pi.results(click=True)["relay click test"].status is Status.OK
    power = [("setup", 16, 1), ("close",)]  # the module's supply, for the module checks
    assert pi.gpio.calls == [*power, ("setup", 17, 0), ("write", 17, 1), ("write", 17, 0),
                             ("close",)]


def test_click_relay_refuses_while_the_daemon_holds_the_relay(pi: Machine) -> None:
    pi.commands["systemctl is-active doorward.service"] = "active"
    result = pi.results(click=True)["relay click test"]
    assert result.status is Status.FAIL and "systemctl stop" in result.fix
    assert pi.gpio.calls == []


def test_configure_module_sets_fast_baud_and_large_packets_once(pi: Machine) -> None:
    code, text = pi.doctor("--configure-module")
    assert pi.sensor.settings == [(6, 3), (4, 12)] and "power-cycle" in text and code == 0
    pi.sensor = FakeSensor(FakeParams(packet_size=256, baud=115200))
    code, text = pi.doctor("--configure-module")
    assert pi.sensor.settings == [] and "already set" in text


def test_an_assumed_synchronised_clock_is_a_warning_as_the_daemon_trusts_it(pi: Machine) -> None:
    pi.synchronised = False
    pi.config.write_text(pi.config.read_text().replace("assume_synchronised = false",
                                                        "assume_synchronised = true"))
    result = pi.results()["clock synchronised"]
    assert result.status is Status.WARN and "assume_synchronised = true" in result.detail
    assert pi.doctor()[0] == 0


def heading_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces
    to hyphens (a code block's # lines are not headings)."""
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)
    headings = re.findall(r"^#{1,6} +(.+?) *$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_doc_link_doctor_prints_resolves_to_a_heading() -> None:
    sources = "\n".join(path.read_text() for path in (ROOT / "daemon/commands/doctor").glob("*.py"))
    links = set(re.findall(r"docs/([\w-]+\.md)(?:#([\w-]+))?", sources))
    assert ("install.md", "4-pair") in links  # the pattern finds them
    broken = [f"docs/{page}#{anchor}" for page, anchor in sorted(links)
              if not (ROOT / "docs" / page).exists()
              or (anchor and anchor not in heading_anchors(ROOT / "docs" / page))]
    assert broken == []


def test_doctor_reads_the_journal_an_unpaired_daemon_writes(tmp_path: Path) -> None:
    from doorward.daemon.commands.doctor.sync import journal_check
    from doorward.daemon.journal.store import EventJournal

    context = DoctorContext(probe=SystemProbe(tmp_path), hardware=None, is_pi=False,
                            state_dir=str(tmp_path))
    nothing = journal_check(context)
    assert nothing.status is Status.WARN and "journal-unpaired.db" in nothing.detail
    journal = EventJournal(tmp_path / "journal-unpaired.db", "unpaired")
    journal.append("door_started", {}, wall_now=1e9, wall_trusted=True, mono_now=0.0,
                   boot_id="b")
    journal.close()
    result = journal_check(context)
    assert result.status is Status.OK and "journal-unpaired.db" in result.detail, result


def test_doctor_powers_the_module_a_stopped_daemon_left_off(pi: Machine) -> None:
    pi.gpio.levels[16] = 0  # strict_gpiod: the daemon's stop released module_power low
    results = pi.results()
    power = results["module power (module_power pin)"]
    assert power.status is Status.OK and "BCM 16" in power.detail and "was off" in power.detail
    assert pi.gpio.calls == [("setup", 16, 1), ("close",)]  # on for the checks, then released
    assert results["fingerprint module answers"].status is Status.OK


def test_an_unpowerable_module_is_reported_as_unpowered_not_as_wiring(pi: Machine) -> None:
    def no_gpio(_hardware: object) -> FakeGpio:
        raise OSError("GPIO busy")

    pi.plugins = lambda: Plugins(open_sensor=pi.open_sensor, door_secrets=lambda _c: pi.secrets,  # type: ignore[method-assign]
                                 check_binding=lambda *_a: pi.binding,
                                 clock_synchronised=lambda _c: True, open_gpio=no_gpio,
                                 sleep=lambda _s: None)
    results = pi.results()
    power, module = results["module power (module_power pin)"], results["fingerprint module answers"]
    assert power.status is Status.FAIL and "BCM 16" in power.detail and "GPIO busy" in power.detail
    assert module.status is Status.FAIL and "unpowered" in module.detail
    assert "TXD" not in module.fix and "baud" not in module.fix


def test_a_silent_module_with_its_supply_on_names_the_supply_first(pi: Machine) -> None:
    pi.sensor_error = Timeout("no reply")
    fix = pi.results()["fingerprint module answers"].fix
    assert fix.index("module_power, BCM 16, is on now") < fix.index("TXD")
