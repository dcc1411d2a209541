"""The door's credential: 0600 on disk, the systemd credential preferred, never probed for."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import stat
from pathlib import Path

import pytest

from doorward.daemon.storage.credentials import (
    CREDENTIAL_NAME,
    CredentialError,
    Credentials,
    load_credentials,
    write_credentials,
    write_systemd_credential,
)


def credentials(device_id: str = "d-1") -> Credentials:
    return Credentials(
        device_id=device_id, kind="door", server_url="https://doors.example.org",
        server_key_id="56475aa75463474c", server_public_key=base64.b64encode(bytes(32)).decode(),
        server_key_fingerprint="5647:5aa7", token="t" * 43,
        door_private_key=base64.b64encode(bytes(range(32))).decode(), module_password=0x5EC2E7A1,
        binding_token="ab" * 16, cache_key=base64.b64encode(bytes(32)).decode(),
    )  # fmt: skip


def test_written_with_mode_0600_and_read_back(tmp_path: Path) -> None:
    path = write_credentials(credentials(), tmp_path / "etc" / "credential.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_credentials(path) == credentials()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o660])
def test_a_credential_group_or_others_can_touch_is_refused_naming_the_file_and_mode(
        tmp_path: Path, mode: int) -> None:  # fmt: skip
    path = write_credentials(credentials(), tmp_path / "credential.json")
    os.chmod(path, mode)
    with pytest.raises(CredentialError, match=rf"credential.json: mode {mode:04o} .* `chmod 600 "):
        load_credentials(path)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_credential_only_its_owner_can_read_is_loaded(tmp_path: Path, mode: int) -> None:
    path = write_credentials(credentials(), tmp_path / "credential.json")
    os.chmod(path, mode)
    assert load_credentials(path) == credentials()


def test_a_missing_credential_says_how_to_pair(tmp_path: Path) -> None:
    with pytest.raises(CredentialError, match="doorward pair"):
        load_credentials(tmp_path / "absent.json")


def test_the_systemd_credential_is_preferred_when_systemd_passes_it(tmp_path: Path, monkeypatch) -> None:
    plain = write_credentials(credentials("plain"), tmp_path / "credential.json")
    directory = tmp_path / "creds"
    directory.mkdir()
    (directory / CREDENTIAL_NAME).write_bytes(credentials("from-systemd").to_json())
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(directory))
    assert load_credentials(plain).device_id == "from-systemd"
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "empty"))
    assert load_credentials(plain).device_id == "plain"  # no file there: the plain one


def test_systemd_creds_encrypts_under_the_units_name(tmp_path: Path) -> None:
    calls = []
    target = write_systemd_credential(credentials(), tmp_path / "credstore",
                                      runner=lambda argv, stdin: calls.append((argv, stdin)))
    assert target == tmp_path / "credstore" / CREDENTIAL_NAME
    [(argv, stdin)] = calls
    assert argv == ["systemd-creds", "encrypt", f"--name={CREDENTIAL_NAME}", "-", str(target)]
    assert Credentials.from_json(stdin, "stdin") == credentials()


def test_a_malformed_credential_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "credential.json"
    path.write_text('{"device_id": "d"}')
    os.chmod(path, 0o600)
    with pytest.raises(CredentialError, match="missing"):
        load_credentials(path)


def test_a_credential_paired_before_the_server_sent_the_door_name_still_loads(tmp_path: Path) -> None:
    old = json.loads(credentials().to_json())
    del old["device_name"]
    path = tmp_path / "credential.json"
    path.write_text(json.dumps(old))
    os.chmod(path, 0o600)
    loaded = load_credentials(path)
    assert loaded.device_name == "" and loaded.label == "d-1"


def test_the_label_names_the_door_and_its_id() -> None:
    named = dataclasses.replace(credentials(), device_name="Lab east")
    assert named.label == "Lab east (d-1)"


def test_a_credential_without_a_required_field_is_refused_naming_it(tmp_path: Path) -> None:
    old = json.loads(credentials().to_json())
    del old["token"]
    with pytest.raises(CredentialError, match=r"missing \['token'\]"):
        Credentials.from_json(json.dumps(old).encode(), "credential.json")
