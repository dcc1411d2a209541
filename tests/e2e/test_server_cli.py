"""`doorward server ...` end to end: init, add-admin, site/zone/door/person/grant, the server
as a process on loopback (port 0, `[clock] assume_synchronised`), revoke, backup, restore."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from doorward.daemon.codec import bundle
from doorward.sim.rig.processes import OutputLines, WaitTimeout
from doorward.server.cli.main import COMMANDS
from tests.support.server import R307, b64, template

ROOT = Path(__file__).resolve().parents[2]


def cli(config: Path, *args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "doorward.server.cli.main", args[0], "--config", str(config), *args[1:]]
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=60)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def start_server(config: Path, within_s: float = 20.0) -> tuple[subprocess.Popen, str]:
    """``server run`` on a free port, and the address it says it is running on (its stderr is
    read on a thread: the deadline holds if the line never comes)."""
    process = subprocess.Popen([sys.executable, "-m", "doorward.server.cli.main", "run", "--config", str(config),
                                "--host", "127.0.0.1", "--port", "0"], cwd=ROOT,
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        found = OutputLines(process.stderr).wait_for_line(r"running on http://127\.0\.0\.1:(\d+)", within_s)
    except WaitTimeout:
        process.kill()
        raise
    return process, f"http://127.0.0.1:{found.group(1)}"


@pytest.fixture
def site(tmp_path):
    config = tmp_path / "etc" / "server.toml"
    init = cli(config, "init", "--data-dir", str(tmp_path / "data"))
    fingerprint = re.search(r"([0-9a-f]{4}(:[0-9a-f]{4}){7})", init.stdout).group(1)
    text = config.read_text().replace("assume_synchronised = false", "assume_synchronised = true")
    config.write_text(text + "\n[bundles]\nrebuild_interval_s = 0.2\n")
    keys = tmp_path / "etc" / "server-keys"
    assert oct((keys / "signing.key").stat().st_mode & 0o777) == "0o600"
    assert oct((keys / "data.key").stat().st_mode & 0o777) == "0o600"
    assert (keys / "removals.ledger").read_bytes() == b""  # made by init, as the server's user
    assert oct((keys / "removals.ledger").stat().st_mode & 0o777) == "0o600"
    cli(config, "add-admin", "root", "--role", "admin", "--password-stdin", stdin="a long admin password\n")
    site_id = cli(config, "site", "add", "HQ", "--time-zone", "Europe/Berlin").stdout.strip()
    zone_id = cli(config, "zone", "add", "Lab", "--site", site_id).stdout.strip()
    door_id = cli(config, "door", "add", "Front", "--site", site_id, "--zone", zone_id,
                  "--module-identity", R307, "--capacity", "1000").stdout.strip()
    return config, fingerprint, site_id, zone_id, door_id


def test_every_subcommand_has_help() -> None:
    for name in COMMANDS:
        result = subprocess.run([sys.executable, "-m", "doorward.server.cli.main", name, "--help"], capture_output=True,
                                text=True, cwd=ROOT, timeout=30)
        assert result.returncode == 0 and "usage" in result.stdout, name


def test_a_site_run_from_the_command_line(site, tmp_path) -> None:
    config, fingerprint, site_id, zone_id, door_id = site
    code = re.search(r"pairing code: (\S+)", cli(config, "pairing-code", door_id).stdout).group(1)
    person = cli(config, "person", "add", "Alice").stdout.strip()
    cli(config, "person", "consent", person, "form 12")
    grant = cli(config, "grant", person, zone_id).stdout.strip()
    server, url = start_server(config)
    try:
        door_key = bundle.generate_door_keys()
        with httpx.Client(base_url=url, trust_env=False, timeout=40) as client:
            admin = client.post("/api/v1/sessions", json={"name": "root", "password": "a long admin password"}).json()
            headers = {"Authorization": f"Bearer {admin['token']}"}
            finger = {"name": "index", "module_identity": R307, "template": b64(template(1))}
            assert client.post(f"/api/v1/people/{person}/fingers", json=finger, headers=headers).status_code == 201
            paired = client.post("/api/v1/pair", json={
                "code": code, "module_identity": R307,
                "x25519_public": base64.b64encode(bundle.raw_public(door_key.public_key())).decode()}).json()
            assert paired["server_key_fingerprint"] == fingerprint  # what the door checks
            pinned = {paired["server_key_id"]: bundle.Ed25519PublicKey.from_public_bytes(
                base64.b64decode(paired["server_public_key"]))}
            door = {"Authorization": f"Bearer {paired['token']}"}
            first = client.get("/api/v1/device/bundle", headers=door)
            assert [u.user_id for u in bundle.verify_bundle(first.content, pinned, door_id=door_id).users] == [person]
            revoked_at = time.monotonic()
            cli(config, "revoke", grant)  # another process: the server notices the dirty flag
            held = client.get("/api/v1/device/bundle", params={"wait": 20},
                              headers={**door, "If-None-Match": first.headers["ETag"]})
            assert held.status_code == 200 and time.monotonic() - revoked_at < 5
            assert bundle.verify_bundle(held.content, pinned, door_id=door_id).users == ()
        cli(config, "backup", str(tmp_path / "backup.db"))
        refused = cli(config, "restore", str(tmp_path / "backup.db"), check=False)
        assert refused.returncode == 1 and "running" in refused.stderr
    finally:
        server.terminate()
        server.wait(10)
    cli(config, "restore", str(tmp_path / "backup.db"))
    late = subprocess.run([sys.executable, "-m", "doorward.server.cli.main", "door", "show", door_id, "--json", "--config", str(config)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)  # --config may also come last
    shown = json.loads(late.stdout)
    assert shown["paired"] is True and shown["bundle_version"] is not None
    assert json.loads(cli(config, "alarms", "list", "--json").stdout) == []


def test_cli_errors_are_one_line_without_traceback(site) -> None:
    config = site[0]
    result = cli(config, "site", "add", "Mars", "--time-zone", "Mars/Olympus", check=False)
    assert result.returncode == 1 and "time_zone" in result.stderr and "Traceback" not in result.stderr
    result = cli(config, "grant", "u_nobody", "z_nowhere", check=False)
    assert result.returncode == 1 and "no person" in result.stderr


# TEST-NET-1 (192.0.2.1) is on no interface: a server that got past the TLS rule fails to bind
# there, so these tests never open a listener beyond loopback, not even when the rule regresses.
UNBOUND = "192.0.2.1"


def initialised(tmp_path: Path) -> Path:
    config = tmp_path / "server.toml"
    cli(config, "init", "--data-dir", str(tmp_path / "data"))
    config.write_text(config.read_text().replace('host = "127.0.0.1"', f'host = "{UNBOUND}"'))
    return config


@pytest.mark.parametrize("options", [(), ("--host", UNBOUND)])
def test_run_refuses_plain_http_on_a_non_loopback_address(tmp_path, options) -> None:
    refused = cli(initialised(tmp_path), "run", "--port", "0", *options, check=False)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"refusing to serve plain HTTP on '{UNBOUND}'" in refused.stderr
    for remedy in ("tls_certfile", "tls_keyfile", "--behind-tls-proxy", "behind_tls_proxy = true"):
        assert remedy in refused.stderr
    assert "error while attempting to bind" not in refused.stderr  # refused before binding


@pytest.mark.parametrize("setting, options", [("", ("--behind-tls-proxy",)),
                                              ("behind_tls_proxy = false", ("--behind-tls-proxy",)),
                                              ("behind_tls_proxy = true", ())])
def test_run_behind_a_tls_proxy_goes_on_to_listen_on_the_address_given(tmp_path, setting, options) -> None:
    config = initialised(tmp_path)
    config.write_text(config.read_text().replace("behind_tls_proxy = false", setting))
    result = cli(config, "run", "--port", "0", *options, check=False)
    assert "refusing" not in result.stderr
    assert result.returncode != 0 and "error while attempting to bind" in result.stderr, result.stderr


def test_revocations_and_erasures_made_after_a_backup_survive_its_restore(site, tmp_path) -> None:
    """Backup, then deactivate, revoke, erase, delete a finger and lock the zone down (API and
    CLI, the server a process); stop, restore: the door's next bundle carries none of it back."""
    config, _, _, zone_id, door_id = site
    code = re.search(r"pairing code: (\S+)", cli(config, "pairing-code", door_id).stdout).group(1)
    people, grants = {}, {}
    for name in ("Alice", "Bob", "Carol", "Dave"):
        people[name] = cli(config, "person", "add", name).stdout.strip()
        cli(config, "person", "consent", people[name], f"form {name}")
        grants[name] = cli(config, "grant", people[name], zone_id).stdout.strip()
    server, url = start_server(config)
    try:
        with httpx.Client(base_url=url, trust_env=False, timeout=40) as client:
            admin = admin_headers(client)
            fingers = {name: [add_finger(client, admin, people[name], 10 * n + i) for i in range(2)]
                       for n, name in enumerate(people)}
            door = PairedDoor.pair(client, code)
            assert {u.user_id for u in door.fetch(client).users} == set(people.values())
            cli(config, "backup", str(tmp_path / "backup.db"))
            assert client.patch(f"/api/v1/people/{people['Alice']}", json={"active": False},
                                headers=admin).status_code == 200
            cli(config, "revoke", grants["Bob"])
            cli(config, "person", "delete", people["Carol"])
            assert client.delete(f"/api/v1/fingers/{fingers['Dave'][0]}", headers=admin).status_code == 202
            cli(config, "zone", "lockdown", zone_id, "on")
    finally:
        server.terminate()
        server.wait(10)
    restored = cli(config, "restore", str(tmp_path / "backup.db")).stdout
    server, url = start_server(config)
    try:
        with httpx.Client(base_url=url, trust_env=False, timeout=40) as client:
            snapshot = door.fetch(client)
            assert [u.user_id for u in snapshot.users] == [people["Dave"]]  # Alice, Bob, Carol stay out
            assert [f.finger_id for f in snapshot.users[0].fingers] == [fingers["Dave"][1]]
            assert snapshot.lockdown is True
            assert client.get("/api/v1/me", headers=admin).status_code == 401  # sessions ended
            removed = client.get(f"/api/v1/people/{people['Carol']}/removals", headers=admin_headers(client))
            assert {(r["device_id"], r["finger_id"]) for r in removed.json()} == {
                (door_id, finger) for finger in fingers["Carol"]}
    finally:
        server.terminate()
        server.wait(10)
    for says in (f"person {people['Alice']}: active=False", f"grant {grants['Bob']} revoked",
                 f"person {people['Carol']} erased", f"finger {fingers['Dave'][0]} deleted",
                 f"zone {zone_id}: lockdown=True", "5 re-applied", "admin sessions ended: 1"):
        assert says in restored, (says, restored)


def admin_headers(client: httpx.Client) -> dict:
    answer = client.post("/api/v1/sessions", json={"name": "root", "password": "a long admin password"})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def add_finger(client: httpx.Client, admin: dict, person: str, n: int) -> str:
    finger = {"name": f"finger {n}", "module_identity": R307, "template": b64(template(n))}
    answer = client.post(f"/api/v1/people/{person}/fingers", json=finger, headers=admin)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


class PairedDoor:
    """Just enough of a door to pair and verify its bundles across server restarts."""

    def __init__(self, key, answer: dict) -> None:
        self.key, self.door_id, self.token = key, answer["device_id"], answer["token"]
        self.pinned = {answer["server_key_id"]: bundle.Ed25519PublicKey.from_public_bytes(
            base64.b64decode(answer["server_public_key"]))}

    @classmethod
    def pair(cls, client: httpx.Client, code: str) -> PairedDoor:
        key = bundle.generate_door_keys()
        answer = client.post("/api/v1/pair", json={
            "code": code, "module_identity": R307,
            "x25519_public": base64.b64encode(bundle.raw_public(key.public_key())).decode()})
        assert answer.status_code == 201, answer.text
        return cls(key, answer.json())

    def fetch(self, client: httpx.Client) -> bundle.Snapshot:
        answer = client.get("/api/v1/device/bundle", headers={"Authorization": f"Bearer {self.token}"})
        assert answer.status_code == 200, answer.text
        return bundle.verify_bundle(answer.content, self.pinned, door_id=self.door_id)


FINGERPRINT = re.compile(r"([0-9a-f]{4}(:[0-9a-f]{4}){7})")


def test_init_again_keeps_the_keys_and_says_so(tmp_path) -> None:
    config = tmp_path / "etc" / "server.toml"
    first = cli(config, "init", "--data-dir", str(tmp_path / "data"))
    key = (tmp_path / "etc" / "server-keys" / "signing.key").read_bytes()
    again = cli(config, "init", "--data-dir", str(tmp_path / "data"))  # an installer run twice
    assert FINGERPRINT.search(again.stdout).group(1) == FINGERPRINT.search(first.stdout).group(1)
    assert "(kept: it existed)" in again.stdout and "wrote" not in again.stdout
    assert (tmp_path / "etc" / "server-keys" / "signing.key").read_bytes() == key


def test_init_with_a_written_config_makes_the_database_directory(tmp_path) -> None:
    """An installer writes server.toml first; the state directory may not exist yet."""
    config = tmp_path / "server.toml"
    config.write_text(f'[server]\ndatabase = "{tmp_path / "state" / "doorward.server.store.db"}"\n'
                      f'keys_dir = "{tmp_path / "keys"}"\n')
    result = cli(config, "init", check=False)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert (tmp_path / "state" / "doorward.server.store.db").exists()
    assert oct((tmp_path / "state").stat().st_mode & 0o777) == "0o700"


def test_init_refuses_to_make_one_key_of_a_pair(tmp_path) -> None:
    config = tmp_path / "etc" / "server.toml"
    cli(config, "init", "--data-dir", str(tmp_path / "data"))
    (tmp_path / "etc" / "server-keys" / "data.key").unlink()
    refused = cli(config, "init", check=False)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "data.key does not" in refused.stderr and "offline copy" in refused.stderr
    assert not (tmp_path / "etc" / "server-keys" / "data.key").exists()


def test_a_database_that_cannot_be_opened_is_one_line_naming_it(tmp_path) -> None:
    config = tmp_path / "etc" / "server.toml"
    cli(config, "init", "--data-dir", str(tmp_path / "data"))
    elsewhere = tmp_path / "gone" / "doorward.server.store.db"
    config.write_text(config.read_text().replace(str(tmp_path / "data" / "doorward.server.store.db"), str(elsewhere)))
    refused = cli(config, "site", "list", check=False)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip() == f"doorward server site: {elsewhere}: unable to open database file"
