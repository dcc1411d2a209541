"""The door's credential: its keys, token, module password and binding token, in one file.

Written once by ``doorward pair`` and read-only to the daemon. Two forms, never chosen by
probing for a binary:
- a JSON file with mode 0600, owned by the service user even when pairing runs under sudo
  (default ``/etc/doorward/credential.json``);
- an encrypted systemd credential (``--systemd-creds``): ``systemd-creds encrypt
  --name=doorward-door - /etc/credstore.encrypted/doorward-door``, which the unit loads with
  ``LoadCredentialEncrypted=doorward-door``; the daemon then reads
  ``$CREDENTIALS_DIRECTORY/doorward-door`` whenever that file exists.

A plain file readable by group or others is refused with a message naming it and its mode.
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import stat
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from doorward.daemon.errors import DoorwardError

DEFAULT_CREDENTIAL_PATH = Path("/etc/doorward/credential.json")
CREDENTIAL_NAME = "doorward-door"
CREDSTORE = Path("/etc/credstore.encrypted")
SERVICE_USER = "doorward"

Runner = Callable[[Sequence[str], bytes], None]


class CredentialError(DoorwardError, PermissionError):
    """The credential is missing, unreadable, malformed or unsafely stored."""


@dataclass(frozen=True)
class Credentials:
    device_id: str
    kind: str  # "door" or "station"
    server_url: str
    server_key_id: str
    server_public_key: str  # base64 of the raw Ed25519 key
    server_key_fingerprint: str
    token: str
    door_private_key: str  # base64 of the raw X25519 private key
    module_password: int
    binding_token: str  # hex; written to the module's notepad page 0 when bound
    cache_key: str  # base64 of 32 bytes: the permission cache's AES-256-GCM key
    # The name the server knows the device by, for log lines; credentials paired before the
    # server sent it have none, and fall back to the id.
    device_name: str = ""

    def door_key(self) -> X25519PrivateKey:
        return X25519PrivateKey.from_private_bytes(base64.b64decode(self.door_private_key))

    def trusted_keys(self) -> dict[str, Ed25519PublicKey]:
        raw = base64.b64decode(self.server_public_key)
        return {self.server_key_id: Ed25519PublicKey.from_public_bytes(raw)}

    def binding_token_bytes(self) -> bytes:
        return bytes.fromhex(self.binding_token)

    def cache_key_bytes(self) -> bytes:
        return base64.b64decode(self.cache_key)

    @property
    def label(self) -> str:
        """How log lines name this device: its name and id, or the id alone."""
        return f"{self.device_name} ({self.device_id})" if self.device_name else self.device_id

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Credentials:
        try:
            values = json.loads(data)
            required = {f.name for f in fields(cls) if f.default is MISSING}
            missing = required - set(values)
            if missing:
                raise CredentialError(f"{where}: missing {sorted(missing)}")
            return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})
        except (ValueError, TypeError) as error:
            raise CredentialError(f"{where}: not a doorward credential ({error})") from error


def credential_source(plain_path: Path) -> Path:
    """``$CREDENTIALS_DIRECTORY/doorward-door`` when systemd provides it, else the file."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if directory and (Path(directory) / CREDENTIAL_NAME).exists():
        return Path(directory) / CREDENTIAL_NAME
    return plain_path


def load_credentials(plain_path: Path = DEFAULT_CREDENTIAL_PATH) -> Credentials:
    path = credential_source(plain_path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise CredentialError(f"{path}: no credential; pair the door with `doorward pair`") from None
    if path == plain_path and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialError(
            f"{path}: mode {stat.S_IMODE(mode):04o} lets others read the door's keys; "
            f"run `chmod 600 {path}`"
        )
    try:
        return Credentials.from_json(path.read_bytes(), str(path))
    except OSError as error:
        raise CredentialError(f"{path}: cannot read ({error})") from error


def service_owner() -> tuple[int, int] | None:
    """Who should own the file: the service user if it exists, else the sudo caller."""
    try:
        entry = pwd.getpwnam(SERVICE_USER)
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        pass
    if "SUDO_UID" in os.environ and "SUDO_GID" in os.environ:
        return int(os.environ["SUDO_UID"]), int(os.environ["SUDO_GID"])
    return None


def write_credentials(credentials: Credentials, path: Path) -> Path:
    """Atomically, mode 0600 from the first byte, fsynced, owned by the service user."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.new")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, credentials.to_json())
        os.fsync(fd)
        owner = service_owner() if os.geteuid() == 0 else None
        if owner is not None:
            os.fchown(fd, *owner)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    return path


def run_command(argv: Sequence[str], stdin: bytes) -> None:
    result = subprocess.run(list(argv), input=stdin, capture_output=True, check=False)
    if result.returncode != 0:
        raise CredentialError(f"{argv[0]} failed: {result.stderr.decode(errors='replace').strip()}")


def write_systemd_credential(
    credentials: Credentials, store: Path = CREDSTORE, runner: Runner = run_command
) -> Path:
    """Encrypt with systemd-creds under the name the unit loads it by."""
    store.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = store / CREDENTIAL_NAME
    runner(["systemd-creds", "encrypt", f"--name={CREDENTIAL_NAME}", "-", str(target)],
           credentials.to_json())  # fmt: skip
    return target
