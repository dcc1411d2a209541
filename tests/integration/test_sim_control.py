"""The control socket, the CLI subprocess, and the hub wiring (against a tiny fake hub)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from doorward.drivers.r30x.protocol import Command
from doorward.drivers.r30x.transport import SerialTransport
from doorward.sim.module.control import ControlServer
from doorward.sim.module.hubwire import HubWiring
from doorward.sim.module.link import MemoryLink
from doorward.sim.module.r30x import SimulatedR30x
from tests.support.sim import ControlClient, Host, wait_until

REPO = Path(__file__).resolve().parents[2]


def test_control_socket_protocol(tmp_path) -> None:
    module = SimulatedR30x("r503", seed=4)
    with ControlServer(module, tmp_path / "ctl.sock"), MemoryLink(module) as link:
        client = ControlClient(tmp_path / "ctl.sock")
        assert client({"hello": 1}) == {"ok": True, "protocol": 1, "model": "r503",
                                        "firmware": "R503-SIM-1.2.1"}
        assert client({"place": "alice/right-index"}) == {"ok": True}
        assert Host(link.host).call(Command.GEN_IMG).code == 0
        assert client({"lift": True})["ok"] and module.finger is None
        assert client({"seed": 42})["ok"] and module.seed == 42
        assert client({"messy_rate": 0.25})["ok"] and module.messy_rate == 0.25
        assert client({"lie": {"page": 7, "score": 200}})["ok"]
        assert client({"fault": {"kind": "drop", "rate": 0.001, "ms": 500}})["ok"]
        state = client({"state": True})
        assert state["lie"] == {"page": 7, "score": 200} and state["fault"]["kind"] == "drop"
        assert state["library"] == {"capacity": 200, "occupied": []}
        assert state["password_set"] is False and state["firmware"] == "R503-SIM-1.2.1"
        assert client({"power_cycle": True})["ok"]
        for bad in (b"{not json", b"[1, 2]", b'{"launch": 1}', b'{"place": 5}',
                    b'{"messy_rate": 3}', b'{"seed": "x"}', b"\xff\xfe"):
            reply = client.raw(bad)
            assert reply["ok"] is False and reply["error"], bad
        assert client({"hello": 1})["ok"]  # still serving after the bad requests
        client.close()
    assert not (tmp_path / "ctl.sock").exists()


def test_cli_serves_a_pty_and_cleans_up_on_sigterm(tmp_path) -> None:
    link, ctl, flash = tmp_path / "tty", tmp_path / "ctl.sock", tmp_path / "flash.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "doorward.sim.module.r30x", "--model", "as608", "--link", str(link),
         "--control", str(ctl), "--flash", str(flash), "--seed", "3", "--firmware", "X-1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        assert wait_until(lambda: link.exists() and ctl.exists(), 10.0), process.stdout
        client = ControlClient(ctl)
        assert client({"hello": 1})["model"] == "as608"
        assert client({"state": True})["firmware"] == "X-1"
        client.close()
        host = Host(SerialTransport(str(link)))
        assert host.call(Command.READ_SYS_PARA).params[4:6] == b"\x01\x2c"  # 300 slots
        host.transport.close()
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=10)[0].decode()
    assert process.returncode == 0, output
    assert not os.path.lexists(link) and not ctl.exists() and flash.exists()


def test_cli_rejects_hub_without_pins(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "doorward.sim.module.r30x", "--link", str(tmp_path / "t"), "--hub", "x"],
        cwd=REPO, capture_output=True, timeout=30,
    )
    assert result.returncode == 2 and b"--touch-pin" in result.stderr


class FakeHub:
    """Just enough of the hub protocol (docs/simulator.md): hello, drive, level, watch + events."""

    def __init__(self, path: Path, power_level: int) -> None:
        self.power_level = power_level
        self.drives: list[tuple[int, int]] = []
        self.watchers: list[socket.socket] = []
        self.changed = threading.Condition()
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        for line in conn.makefile("rb"):
            reply = self._answer(conn, json.loads(line))
            conn.sendall(json.dumps(reply).encode() + b"\n")

    def _answer(self, conn: socket.socket, request: dict) -> dict:
        if "drive" in request:
            with self.changed:
                self.drives.append((request["drive"]["pin"], request["drive"]["value"]))
                self.changed.notify_all()
        if "watch" in request:
            self.watchers.append(conn)
        if "level" in request:
            return {"ok": True, "value": self.power_level, "mode": "out"}
        return {"ok": True, "protocol": 1} if "hello" in request else {"ok": True}

    def set_power(self, pin: int, value: int) -> None:
        event = json.dumps({"event": {"pin": pin, "value": value, "t": 0.0}}).encode() + b"\n"
        for conn in self.watchers:
            conn.sendall(event)

    def close(self) -> None:
        self.server.close()


@pytest.mark.parametrize("model, touched, idle", [("r503", 0, 1), ("r307", 0, 1), ("as608", 1, 0)])
def test_hub_wiring_drives_touch_line_and_follows_power_pin(tmp_path, model, touched, idle) -> None:
    hub = FakeHub(tmp_path / "hub.sock", power_level=1)
    module = SimulatedR30x(model)
    wiring = HubWiring(module, tmp_path / "hub.sock", touch_pin=17, power_pin=27)
    with MemoryLink(module) as link:
        host = Host(link.host)
        module.control({"place": "alice/right-index"})
        module.control({"lift": True})
        assert hub.drives == [(17, idle), (17, touched), (17, idle)]
        assert host.call(Command.TEMPLATE_NUM).code == 0
        hub.set_power(27, 0)
        assert wait_until(lambda: not module.powered, 2.0)
        host.send(Command.TEMPLATE_NUM)
        assert host.silent_for(0.05)
        hub.set_power(27, 1)
        assert wait_until(lambda: module.powered, 2.0)
        if module.profile.sends_ready_byte:
            assert host.raw(1) == b"\x55"
        assert host.call(Command.TEMPLATE_NUM).code == 0
    wiring.close()
    hub.close()


def test_the_hub_power_pin_cures_a_hung_module(tmp_path) -> None:
    hub = FakeHub(tmp_path / "hub.sock", power_level=1)
    module = SimulatedR30x("r307")
    wiring = HubWiring(module, tmp_path / "hub.sock", touch_pin=17, power_pin=27)
    with MemoryLink(module) as link:
        host = Host(link.host)
        module.control({"hang": True})
        host.send(Command.TEMPLATE_NUM)
        assert host.silent_for(0.05)
        hub.set_power(27, 0)
        assert wait_until(lambda: not module.powered, 2.0)
        hub.set_power(27, 1)
        assert wait_until(lambda: module.powered, 2.0)
        assert host.call(Command.TEMPLATE_NUM).code == 0
    wiring.close()
    hub.close()


def test_hub_wiring_starts_unpowered_when_power_pin_is_low(tmp_path) -> None:
    hub = FakeHub(tmp_path / "hub.sock", power_level=0)
    module = SimulatedR30x("r503")
    wiring = HubWiring(module, tmp_path / "hub.sock", touch_pin=4, power_pin=5)
    assert module.powered is False
    wiring.close()
    hub.close()
