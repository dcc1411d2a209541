"""Test helpers of the enrolment kiosk: a scripted finger, a paired station, a whole rig.

``ScriptedFinger`` is a progress reporter that plays the person at the glass: on each
"place" or "confirm" instruction it puts the next finger of its script on the simulated
module, on "lift" it lifts it. ``KioskRig`` builds everything on loopback: the reference
server, a site with an admin and an enroller, a station paired through ``doorward.daemon.sync.pairing``,
a simulated module on a pty (the kiosk opens it by path, exclusively) with its control
socket, the ``Station`` ready, and the kiosk page served on 127.0.0.1.
"""

from __future__ import annotations

import base64
import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from doorward.sim.rig.processes import free_port, wait_until  # noqa: F401 (re-exported for the tests)
from doorward.daemon.storage.module_record import ModuleRecordStore
from doorward.daemon.commands.pair import bind_and_record
from doorward.daemon.sync.pairing import PairingRequest, pair
from doorward.daemon.reader.types import ReaderSettings
from doorward.drivers.r30x.sensor import R30xSensor
from doorward.enrol.fingerwait import WaitSettings
from doorward.enrol.kiosk.app import KioskSettings, create_app
from doorward.enrol.progress import Progress
from doorward.enrol.station import Station, open_module
from doorward.enrol.workflow import EnrolSettings
from doorward.server.api.embedded import serve_in_thread
from doorward.sim.module.control import ControlServer
from doorward.sim.module.link import PtyBridge
from doorward.sim.module.r30x import SimulatedR30x
from tests.support.server import ADMIN_PASSWORD, RunningServer, make_site, running_server
from tests.support.sim import ControlClient

FAST = EnrolSettings(wait=WaitSettings(poll_s=0.01, place_timeout_s=10, lift_timeout_s=10))
READER = ReaderSettings(poll_interval_s=0.05, lift_poll_s=0.05, health_interval_s=0.5)
PLACE_KEYS = {"place", "confirm"}
LIFT_KEYS = {"lift", "lift_again"}


@dataclass
class ScriptedFinger:
    """Places ``script[i]`` at the i-th placement (the last one repeats), lifts on request."""

    control: Callable[[dict], Any]
    script: list[str]
    events: list[Progress] = field(default_factory=list)
    on_key: dict[str, Callable[[], None]] = field(default_factory=dict)
    placements: int = 0

    def __call__(self, progress: Progress) -> None:
        self.events.append(progress)
        if progress.key in self.on_key:
            self.on_key.pop(progress.key)()
        if progress.key in PLACE_KEYS:
            finger = self.script[min(self.placements, len(self.script) - 1)]
            self.placements += 1
            self.control({"place": finger})
        elif progress.key in LIFT_KEYS:
            self.control({"lift": True})

    def keys(self) -> list[str]:
        return [event.key for event in self.events]


def capture_template(sensor: R30xSensor, control: Callable[[dict], Any], finger: str) -> bytes:
    """A real merged template of ``finger`` from the simulated module (nothing stored)."""
    control({"place": finger})
    for buffer_id in (1, 2):
        sensor.gen_img()
        sensor.img2tz(buffer_id)
    assert sensor.reg_model()
    control({"lift": True})
    return sensor.up_char(1)


class DirectStation:
    """A ``StationLike`` that runs jobs at once on the caller's thread (workflow tests)."""

    def __init__(self, sensor: R30xSensor, identity: str, owners: dict[int, tuple[str, str]] | None = None) -> None:
        self.sensor, self.module_identity, self.owners = sensor, identity, owners or {}

    def run(self, job, name: str = "enrol") -> Future:  # noqa: ANN001
        future: Future = Future()
        try:
            future.set_result(job(self.sensor))
        except BaseException as error:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(error)
        return future

    def owner_at(self, page: int) -> tuple[str, str] | None:
        return self.owners.get(page)

    def pages_of(self, finger_id: str) -> set[int]:
        return {page for page, (_, fid) in self.owners.items() if fid == finger_id}

    def active_pages(self) -> int:
        return len(self.owners)


@dataclass
class KioskRig:
    server: RunningServer
    admin: httpx.Client
    module: SimulatedR30x
    control: ControlClient
    station: Station
    url: str
    port: int
    station_token: str
    site_id: str
    zone_id: str
    templates: dict[str, bytes]

    def client(self, host: str | None = None) -> httpx.Client:
        headers = {"Host": host} if host else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=20, trust_env=False)

    def people(self) -> list[dict]:
        return self.admin.get("/api/v1/people").json()


def _identity_and_templates(path: Path, control: ControlClient, fingers: list[str]) -> tuple[str, dict]:
    sensor = R30xSensor.from_url(str(path))
    try:
        sensor.open()
        identity = sensor.module_identity()
        return identity, {f: capture_template(sensor, control, f) for f in fingers}
    finally:
        sensor.close()


def bind_as_pairing_does(port: Path, credentials, state_dir: Path) -> None:  # noqa: ANN001
    """What `doorward pair` does on a free port: bind the module and record its identity."""
    sensor = R30xSensor.from_url(str(port))
    try:
        sensor.open()
        assert "bound" in bind_and_record(sensor, credentials, state_dir)
    finally:
        sensor.close()


def _pair_station(server: RunningServer, admin: httpx.Client, site_id: str, identity: str, capacity: int):  # noqa: ANN202
    station_id = admin.post("/api/v1/stations", json={"name": "Kiosk", "site_id": site_id,
                                                      "module_identity": identity,
                                                      "capacity": capacity}).json()["id"]
    code = admin.post(f"/api/v1/stations/{station_id}/pairing-codes").json()
    return pair(PairingRequest(server.url, code["code"], code["server_key_fingerprint"], identity))


@contextlib.contextmanager
def kiosk_rig(tmp: Path, model: str = "r503", enrolled: tuple[str, ...] = ("bob/right-index",),
              capacity: int = 200, idle_timeout_s: float = 120.0,
              bind: bool = True) -> Iterator[KioskRig]:
    module = SimulatedR30x(model, seed=11)
    with running_server(tmp / "server") as server, PtyBridge(module, tmp / "module"), \
            ControlServer(module, tmp / "control.sock"):  # fmt: skip
        control = ControlClient(tmp / "control.sock")
        site = make_site(server)
        server.add_admin("erin", role="enroller")
        identity, templates = _identity_and_templates(tmp / "module", control, list(enrolled))
        for n, finger in enumerate(enrolled):
            body = {"person": {"name": finger.split("/")[0].title()}, "consent": {"reference": f"form-{n}"},
                    "fingers": [{"name": "right-index", "module_identity": identity,
                                 "template": base64.b64encode(templates[finger]).decode()}]}
            assert site.admin.post("/api/v1/enrolments", json=body).status_code == 201
        credentials = _pair_station(server, site.admin, site.site_id, identity, capacity)
        state_dir = tmp / "state"
        if bind:
            bind_as_pairing_does(tmp / "module", credentials, state_dir)
        station = Station(open_module(str(tmp / "module")), credentials, settings=READER,
                          long_poll_s=2.0, binding_store=ModuleRecordStore(state_dir))
        station.start()
        try:
            assert station.wait_ready(15).biometric_ready, station.status
            port = free_port()
            settings = KioskSettings(port, server.url, credentials.device_id,
                                     idle_timeout_s=idle_timeout_s, enrol=FAST)  # fmt: skip
            with serve_in_thread(create_app(station, settings), port=port) as (url, _):
                yield KioskRig(server, site.admin, module, control, station, url, port,
                               credentials.token, site.site_id, site.zone_id, templates)
        finally:
            station.stop()
            control.close()


class EventFollower:
    """Reads the kiosk's event stream on a thread; plays the person on "place"/"lift"."""

    def __init__(self, client: httpx.Client, control: Callable[[dict], Any], script: list[str]) -> None:
        self.events: list[tuple[str, dict]] = []
        self.script, self.control, self.placements = script, control, 0
        self._client = client
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()
        wait_until(lambda: self.events)  # the stream opens with the current state

    def _follow(self) -> None:
        import json

        kind = ""
        with contextlib.suppress(httpx.HTTPError), self._client.stream("GET", "/api/events",
                                                                        timeout=None) as stream:
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    self._seen(kind, json.loads(line[6:]))

    def _seen(self, kind: str, data: dict) -> None:
        self.events.append((kind, data))
        if kind != "progress":
            return
        if data["key"] in PLACE_KEYS:
            self.control({"place": self.script[min(self.placements, len(self.script) - 1)]})
            self.placements += 1
        elif data["key"] in LIFT_KEYS:
            self.control({"lift": True})

    def keys(self, kind: str = "progress") -> list[str]:
        return [data.get("key", data.get("screen")) for k, data in list(self.events) if k == kind]


__all__ = ["ADMIN_PASSWORD", "FAST", "DirectStation", "KioskRig", "ScriptedFinger", "capture_template",
           "free_port", "kiosk_rig", "wait_until"]
