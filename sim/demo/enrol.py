"""Enrolment in the demo: the kiosk's workflow on a second simulated module, played through.

Owns ``KioskStation``: the enrolment station's own R503 (a module process with a control
socket), its TOML and credential, and ``enrol(...)``, which runs the kiosk's terminal
workflow (``doorward enrol finger``, signed in as an enroller) as its own process and plays
the person at the glass: each "Place ..." line puts the virtual finger on the station's
module, each "Lift ..." line lifts it. The workflow checks quality and duplicates and sends
person, consent and template to the server in one atomic ``POST /api/v1/enrolments``.

``capture_duress_template`` exists because the demo enrols as an enroller, and only an admin
may mark a duress finger (at the kiosk page, or with ``doorward enrol finger --duress``):
the demo captures that one template from the station's module with doorward's driver and
an admin adds it with ``POST /api/v1/people/{id}/fingers`` and ``duress: true``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from doorward.daemon.storage.credentials import load_credentials
from doorward.drivers.r30x.sensor import R30xSensor
from doorward.sim.rig.door import _one_request
from doorward.sim.rig import config
from doorward.sim.rig.config import write_toml
from doorward.sim.rig.processes import DemoError, ProcessGroup, doorward_argv, run_doorward, wait_until
from doorward.sim.rig.server import Account

PLACE_PREFIXES = ("Place your", "One last time")
LIFT_PREFIX = "Lift your finger"
ENROL_TIMEOUT_S = 60.0


class KioskStation:
    """The station's module and files in ``directory``."""

    def __init__(self, directory: Path, processes: ProcessGroup, seed: int = 31) -> None:
        self.directory, self.processes, self.seed = directory, processes, seed
        self.link, self.control_socket = directory / "tty", str(directory / "module.sock")
        self.config_path, self.credential = directory / "station.toml", directory / "station.json"
        self.station_id = ""

    def start_module(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.processes.start("kiosk-module", doorward_argv(
            "sim", "module", "--model", "r503", "--link", str(self.link),
            "--control", self.control_socket, "--seed", str(self.seed)))  # fmt: skip
        wait_until(lambda: self.link.exists() and Path(self.control_socket).exists(), 10,
                 "the kiosk's module simulator")  # fmt: skip
        write_toml(self.config_path, config.station(self.link, self.credential, self.directory / "state"),
                   "The enrolment kiosk: [module], [server] and [storage] (where the module record\n"
                   "lives) are all that `doorward pair`, `enrol` and `kiosk` read; no door hardware.")

    def module(self, request: dict) -> dict:
        return _one_request(self.control_socket, request)

    def pair(self, server_url: str, code: str, fingerprint: str) -> subprocess.CompletedProcess:
        return run_doorward("pair", "--server", server_url, "--code", code,
                            "--fingerprint", fingerprint, "--config", str(self.config_path))

    def enrol(self, operator: Account, name: str, finger: str, consent: str,
              say=print) -> list[str]:  # noqa: ANN001 - a line printer
        """Enrol a new person ``name`` with the virtual ``finger`` (their right index)."""
        argv = doorward_argv("enrol", "finger", "--operator", operator.name, "--name", name,
                             "--consent", consent, "--finger", "right-index",
                             "--config", str(self.config_path))  # fmt: skip
        process = self.processes.start("kiosk-enrol", argv, pipe_stdout=True,
                                       env={"DOORWARD_OPERATOR_PASSWORD": operator.password})
        lines = self._play_person(process, finger, say)
        code = process.wait(ENROL_TIMEOUT_S)
        self.processes.stop("kiosk-enrol")
        if code != 0:
            raise DemoError(f"enrolment of {name} refused ({code}):\n" + "\n".join(lines)
                            + "\n" + self.processes.tail("kiosk-enrol"))
        return lines

    def _play_person(self, process, finger: str, say) -> list[str]:  # noqa: ANN001
        lines = []
        for line in process.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            say(line)
            if line.startswith(PLACE_PREFIXES):
                self.module({"place": finger})
            elif line.startswith(LIFT_PREFIX):
                self.module({"lift": True})
        return lines

    def capture_template(self, finger: str) -> bytes:
        """One merged template of ``finger`` from the station's module; nothing is stored.

        The station's module is bound to the password in its credential (escrowed on the
        server), so the driver opens it with that password."""
        password = load_credentials(self.credential).module_password
        sensor = R30xSensor.from_url(str(self.link), password=password)
        try:
            sensor.open()
            self.module({"place": finger})
            for buffer_id in (1, 2):
                sensor.gen_img()
                sensor.img2tz(buffer_id)
            if not sensor.reg_model():
                raise DemoError(f"the two captures of {finger} did not merge")
            self.module({"lift": True})
            return sensor.up_char(1)
        finally:
            sensor.close()
