"""A kiosk station binds its module only as a door does (promise 8): through `doorward pair`
on a free port, or a one-shot bind request. A factory-fresh module found when the station
starts is a tamper alarm and receives no password, token or template, although the station's
bundle holds the site's fingers (it used to bind such a module at its first check)."""

from __future__ import annotations

import base64
import contextlib
import time
from pathlib import Path

from doorward.daemon.storage.module_record import ModuleRecordStore, write_bind_request
from doorward.enrol.station import Station, open_module
from doorward.sim.module.control import ControlServer
from doorward.sim.module.link import PtyBridge
from doorward.sim.module.r30x import SimulatedR30x
from tests.support.kiosk import READER, _identity_and_templates, _pair_station
from tests.support.server import make_site, running_server
from tests.support.sim import ControlClient


def _station_on_a_fresh_module(tmp: Path, state_dir: Path, stack: contextlib.ExitStack):  # noqa: ANN202
    """A site with one enrolled finger and a paired station whose module nobody bound."""
    module = SimulatedR30x("r503", seed=11)
    server = stack.enter_context(running_server(tmp / "server"))
    stack.enter_context(PtyBridge(module, tmp / "module"))
    stack.enter_context(ControlServer(module, tmp / "c.sock"))
    control = ControlClient(tmp / "c.sock")
    stack.callback(control.close)
    site = make_site(server)
    identity, templates = _identity_and_templates(tmp / "module", control, ["bob/right-index"])
    body = {"person": {"name": "Bob"}, "consent": {"reference": "form-1"},
            "fingers": [{"name": "right-index", "module_identity": identity,
                         "template": base64.b64encode(templates["bob/right-index"]).decode()}]}
    assert site.admin.post("/api/v1/enrolments", json=body).status_code == 201
    credentials = _pair_station(server, site.admin, site.site_id, identity, 200)
    station = Station(open_module(str(tmp / "module")), credentials, settings=READER,
                      long_poll_s=2.0, binding_store=ModuleRecordStore(state_dir))
    stack.callback(station.stop)
    return station, module, identity


def test_a_fresh_module_at_the_station_is_tamper_and_gets_nothing_until_a_bind_request(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with contextlib.ExitStack() as stack:
        station, module, identity = _station_on_a_fresh_module(tmp_path, state_dir, stack)
        station.start()
        status = station.wait_ready(6)
        assert not status.biometric_ready and "unbound" in status.detail, status
        time.sleep(1.0)  # a bundle is in the station's hands by now: still nothing goes in
        assert module.flash.password == 0 and module.flash.library == {}
        write_bind_request(state_dir, identity, "doorward bind-module", time.time())
        assert station.wait_ready(15).biometric_ready, station.status
        assert module.flash.password != 0 and len(module.flash.library) == 1
