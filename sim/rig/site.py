"""The demo's site: every process started, the site set up as an admin would, doors paired.

Owns ``DemoSite``. ``build()`` starts the alarm webhook receiver (in this process), the
reference server, two doors (a lobby and the restricted project zone "tent", each its own
simulated Pi, module and ``doorward run``) and the enrolment kiosk's module, then: creates
the site, the zones and the doors with ``doorward server ...``; pairs each door with
``doorward pair`` (a mistyped key fingerprint first, which is refused); pairs the kiosk;
enrols three people through the kiosk workflow and grants their zones. ``close()`` stops
every process, newest first; use the site as a context manager so it also happens on
Ctrl-C and on failure.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx

from doorward.sim.rig.door import SimulatedDoor
from doorward.sim.demo.enrol import KioskStation
from doorward.sim.rig.processes import DemoError, ProcessGroup, checked, wait_until
from doorward.sim.rig.server import Account, DemoServer
from doorward.sim.demo.timeline import Timeline
from doorward.sim.rig.webhook import WebhookReceiver

ADMIN = Account("root", "admin", "demo admin password 1")
ENROLLER = Account("erin", "enroller", "demo enroller password 1")
# person key -> (full name, virtual right index finger, zones granted)
PEOPLE = {
    "alice": ("Alice Example", "alice/right-index", ("lobby", "tent")),
    "bob": ("Bob Example", "bob/right-index", ("lobby", "tent")),
    "carol": ("Carol Example", "carol/right-index", ("lobby",)),
}
DURESS_FINGER = "alice/left-little"  # Alice's agreed duress finger
DOOR_POLICY = {"unlock_s": 1.5, "sync_interval_s": 1.0, "two_person_window_s": 20.0}
WRONG_FINGERPRINT = "0000:1111:2222:3333:4444:5555:6666:7777"


class DemoSite:
    def __init__(self, directory: Path, timeline: Timeline, heartbeat_interval_s: float = 5.0,
                 mqtt_url: str = "") -> None:
        self.directory, self.timeline = directory, timeline
        (directory / "logs").mkdir(parents=True, exist_ok=True)
        self.processes = ProcessGroup(directory / "logs")
        self.server = DemoServer(directory / "server", self.processes, heartbeat_interval_s, mqtt_url)
        self.webhook = WebhookReceiver(self.server.webhook_secret_file)
        self.lobby = SimulatedDoor("Lobby door", directory / "lobby", self.processes, seed=5)
        self.tent = SimulatedDoor("Tent door", directory / "tent", self.processes, seed=7)
        self.kiosk = KioskStation(directory / "kiosk", self.processes)
        self.ids: dict[str, str] = {}
        self.grants: dict[tuple[str, str], str] = {}
        self.identity = ""
        self._admin: httpx.Client | None = None

    @property
    def doors(self) -> tuple[SimulatedDoor, SimulatedDoor]:
        return self.lobby, self.tent

    def __enter__(self) -> DemoSite:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self._admin is not None:
                self._admin.close()
        finally:
            self.processes.stop_all()
            self.webhook.close()

    def admin(self) -> httpx.Client:
        """The admin's API session (signed in again after a server restore)."""
        if self._admin is None:
            self._admin = self.server.session(ADMIN)
        return self._admin

    def sign_in_again(self) -> None:
        if self._admin is not None:
            self._admin.close()
        self._admin = None

    # ---- the whole build ----

    def build(self) -> None:
        self.start_server()
        self.create_site()
        self.pair_doors()
        self.enrol_people()
        self.change_and_sync(self.doors, self.grant_zones)

    def start_server(self) -> None:
        say = self.timeline.event
        fingerprint = self.server.init(self.webhook.url)
        say("server_init", f"server initialised; key fingerprint {fingerprint}")
        self.server.add_account(ADMIN)
        self.server.add_account(ENROLLER)
        self.server.start()
        say("server_up", f"server running on {self.server.url}; alarms go to {self.webhook.url}")

    def create_site(self) -> None:
        cli = self.server.cli_id
        self.ids["site"] = cli("site", "add", "Head office", "--time-zone", "Europe/Berlin")
        self.ids["lobby"] = cli("zone", "add", "Lobby", "--site", self.ids["site"])
        self.ids["tent"] = cli("zone", "add", "Tent", "--site", self.ids["site"], "--two-person")
        for door in self.doors:
            door.start_hardware()
        self.identity = module_identity(self.lobby.link)
        for door in self.doors:
            door.door_id = cli("door", "add", door.name, "--site", self.ids["site"], "--zone",
                               self.ids[door.key], "--module-identity", self.identity,
                               "--capacity", "200")  # fmt: skip
            answer = self.admin().patch(f"/api/v1/doors/{door.door_id}", json={"policy": DOOR_POLICY})
            _expect(answer, 200, f"policy of {door.name}")
        self.timeline.event("site_created", "site 'Head office': zones Lobby and Tent (two-person"
                            f" rule); doors {self.lobby.door_id} and {self.tent.door_id}",
                            site=self.ids["site"], identity=self.identity)

    def pairing_code(self, device_id: str) -> str:
        return self.server.cli("pairing-code", device_id).split()[2]

    def pair_doors(self) -> None:
        refused = self.lobby.pair(self.server.url, self.pairing_code(self.lobby.door_id),
                                  WRONG_FINGERPRINT)  # fmt: skip
        if refused.returncode == 0:
            raise DemoError("pairing with a wrong server key fingerprint was accepted")
        self.timeline.event("pair_refused", "Lobby door: pairing with a mistyped server key "
                            "fingerprint refused, nothing stored", stderr=refused.stderr.strip())
        for door in self.doors:
            paired = checked(door.pair(self.server.url, self.pairing_code(door.door_id),
                                       self.server.fingerprint))  # fmt: skip
            self.timeline.event("paired", f"{door.name}: {paired.strip().splitlines()[0]}",
                                door=door.door_id)
            door.start_daemon()
        for door in self.doors:
            door.wait_ready()
        self.timeline.event("doors_running", "both doors run `doorward run` with their first "
                            "signed bundle applied")

    def enrol_people(self) -> None:
        self.kiosk.start_module()
        self.ids["kiosk"] = self.server.cli_id("door", "add", "Reception kiosk", "--site",
                                               self.ids["site"], "--station", "--module-identity",
                                               self.identity, "--capacity", "200")  # fmt: skip
        checked(self.kiosk.pair(self.server.url, self.pairing_code(self.ids["kiosk"]),
                                self.server.fingerprint))  # fmt: skip
        for n, (key, (name, finger, _)) in enumerate(PEOPLE.items()):
            shown = self.timeline.detail if n == 0 else (lambda line: None)  # once is enough
            self.kiosk.enrol(ENROLLER, name, finger, f"consent form {key}",
                             say=lambda line, shown=shown: shown(f"kiosk: {line}"))
            self.ids[key] = self.person_id(name)
            self.timeline.event("enrolled", f"kiosk: {name} enrolled by {ENROLLER.name} (enroller),"
                                " one atomic enrolment", person=self.ids[key])
        self.add_duress_finger()

    def add_duress_finger(self) -> None:
        template = self.kiosk.capture_template(DURESS_FINGER)
        body = {"name": "left-little", "module_identity": self.identity, "duress": True,
                "template": base64.b64encode(template).decode()}
        answer = self.admin().post(f"/api/v1/people/{self.ids['alice']}/fingers", json=body)
        _expect(answer, 201, "the duress finger")
        self.timeline.event("duress_finger", "Alice's duress finger added by the admin through "
                            "the API (an enroller may not mark duress; an admin "
                            "may, at the kiosk or with `doorward enrol finger --duress`)")

    def person_id(self, name: str) -> str:
        people = self.admin().get("/api/v1/people").json()
        rows = people["items"] if isinstance(people, dict) else people
        return next(p["id"] for p in rows if p["name"] == name)

    def grant_zones(self) -> None:
        for key, (name, _, zones) in PEOPLE.items():
            for zone in zones:
                self.grants[(key, zone)] = self.server.cli_id("grant", self.ids[key], self.ids[zone])
            self.timeline.event("granted", f"{name} granted {' and '.join(zones)}")

    # ---- waiting for doors ----

    def door_record(self, door: SimulatedDoor) -> dict:
        answer = self.admin().get(f"/api/v1/doors/{door.door_id}")
        _expect(answer, 200, f"the record of {door.name}")
        return answer.json()

    def change_and_sync(self, doors: tuple[SimulatedDoor, ...], change) -> dict[str, float]:  # noqa: ANN001
        """Make ``change``, then wait until each of ``doors`` has a newer bundle applied and
        its module reconciled; returns, per door name, the seconds that took."""
        before = {door.key: self.door_record(door)["bundle_version"] or 0 for door in doors}
        started = time.monotonic()
        change()
        took = {}
        for door in doors:
            self.wait_in_sync(door, above=before[door.key])
            took[door.name] = round(time.monotonic() - started, 2)
        return took

    def wait_in_sync(self, door: SimulatedDoor, above: int = 0, timeout_s: float = 20.0) -> int:
        """Until the door has applied and reconciled a server bundle newer than ``above``."""
        def in_sync() -> int | None:
            issued = self.door_record(door)["bundle_version"]
            status = door.status() or {}
            reconciled = status.get("versions", {}).get("reconciled")
            fresh = issued is not None and issued > above and reconciled == issued
            return issued if fresh else None
        return wait_until(in_sync, timeout_s, f"{door.name} in sync with the server", 0.1)


def module_identity(link: Path) -> str:
    """What the driver reads from a module that was never bound (before pairing)."""
    from doorward.drivers.r30x.sensor import R30xSensor

    with R30xSensor.from_url(str(link)) as sensor:
        sensor.open()
        return sensor.module_identity()


def _expect(answer: httpx.Response, status: int, what: str) -> None:
    if answer.status_code != status:
        raise DemoError(f"{what}: {answer.status_code} {answer.text}")
