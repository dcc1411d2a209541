"""The simulated module's flash: library, notepad, password, address and system parameters.

Everything a real module keeps across power cycles lives here; char buffers, the image buffer
and the "password verified" flag do not (see sim/module/r30x.py). With a path, every change is
written at once and atomically (temporary file in the same directory, fsync, rename), the way
a module commits a flash page before acking, so a killed simulator never leaves half a file.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from doorward.drivers.r30x.protocol import DEFAULT_ADDRESS, DEFAULT_PASSWORD

NOTEPAD_PAGES = 16
NOTEPAD_PAGE_SIZE = 32
FILE_FORMAT = 1


@dataclass
class Settings:
    """SetSysPara registers: ``active`` is what the module uses now, ``stored`` what flash holds
    and the next power-up applies (baud and packet size; security level applies at once)."""

    security_level: int = 3
    packet_size_code: int = 2
    baud_multiplier: int = 6

    def as_dict(self) -> dict[str, int]:
        return {
            "security_level": self.security_level,
            "packet_size_code": self.packet_size_code,
            "baud_multiplier": self.baud_multiplier,
        }


@dataclass
class Flash:
    model: str
    firmware: str
    path: Path | None = None
    library: dict[int, bytes] = field(default_factory=dict)
    notepad: list[bytes] = field(
        default_factory=lambda: [bytes(NOTEPAD_PAGE_SIZE)] * NOTEPAD_PAGES
    )
    password: int = DEFAULT_PASSWORD
    address: int = DEFAULT_ADDRESS
    stored: Settings = field(default_factory=Settings)

    def save(self) -> None:
        if self.path is None:
            return
        write_atomically(self.path, json.dumps(self._to_json(), indent=1, sort_keys=True))

    def _to_json(self) -> dict[str, object]:
        return {
            "format": FILE_FORMAT,
            "model": self.model,
            "firmware": self.firmware,
            "password": self.password,
            "address": self.address,
            "settings": self.stored.as_dict(),
            "library": {str(k): _b64(v) for k, v in sorted(self.library.items())},
            "notepad": [_b64(page) for page in self.notepad],
        }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_flash(path: Path | None, model: str, firmware: str) -> Flash:
    """A fresh flash, or the one saved at ``path`` (which must belong to the same model)."""
    if path is None or not path.exists():
        flash = Flash(model, firmware, path)
        flash.save()
        return flash
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FILE_FORMAT or data.get("model") != model:
        raise ValueError(
            f"{path}: flash file is for model {data.get('model')!r} "
            f"(format {data.get('format')!r}), not {model!r}"
        )
    return Flash(
        model=model,
        firmware=firmware,
        path=path,
        library={int(k): base64.b64decode(v) for k, v in data["library"].items()},
        notepad=[base64.b64decode(page) for page in data["notepad"]],
        password=int(data["password"]),
        address=int(data["address"]),
        stored=Settings(**data["settings"]),
    )
