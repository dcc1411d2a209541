"""Encryption at rest for the permission cache, and the cache key file.

Owns the cache's errors, ``RowCipher`` (AES-256-GCM per row, with the row's table, key and
bundle version as associated data, so a row's ciphertext cannot be moved to another row,
another table or another bundle version without failing authentication) and the key file:
``load_cache_key`` refuses a file that anyone but its owner may read, ``create_cache_key``
makes one. Templates inside the rows stay sealed to the door's key (``doorward.daemon.codec.bundle``): this
layer never opens them.

Row blob layout: ``0x01 | nonce (12) | AES-GCM ciphertext + tag (16)``. A fresh random nonce
per write; a 96-bit random nonce is safe for far more writes than a door makes in its life.

Imports the standard library and ``cryptography``; no SQLite.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from doorward.daemon.errors import DoorwardError

CACHE_KEY_BYTES = 32  # AES-256
ROW_FORMAT = 0x01
NONCE_BYTES = 12
TAG_BYTES = 16
AD_LABEL = b"doorward cache row v1"


class CacheError(DoorwardError):
    """The permission cache cannot be used; the message says which file and why."""


class CacheDamaged(CacheError, ValueError):
    """The cache file is corrupt, was tampered with, or does not open with this key.

    The daemon's answer is ``PermissionCache.wipe(path)`` and a fresh sync."""


class CacheKeyError(CacheError, PermissionError):
    """The cache key file is missing, malformed or readable by others."""


def row_associated_data(table: str, row_key: str, version: int) -> bytes:
    """What a row is bound to: which table, which row, which bundle version."""
    return b"\x00".join((AD_LABEL, table.encode(), row_key.encode(), str(version).encode()))


class RowCipher:
    """AES-256-GCM over cache rows, each bound to (table, row key, bundle version)."""

    def __init__(self, cache_key: bytes) -> None:
        if len(cache_key) != CACHE_KEY_BYTES:
            raise CacheKeyError(f"a cache key is {CACHE_KEY_BYTES} bytes, not {len(cache_key)}")
        self._aead = AESGCM(cache_key)

    def seal(self, plaintext: bytes, *, table: str, row_key: str, version: int) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        ad = row_associated_data(table, row_key, version)
        return bytes((ROW_FORMAT,)) + nonce + self._aead.encrypt(nonce, plaintext, ad)

    def open(self, blob: bytes, *, table: str, row_key: str, version: int) -> bytes:
        where = f"cache row {table}[{row_key}] of version {version}"
        if len(blob) < 1 + NONCE_BYTES + TAG_BYTES or blob[0] != ROW_FORMAT:
            raise CacheDamaged(f"{where}: not an encrypted row of format 1")
        nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, row_associated_data(table, row_key, version))
        except InvalidTag:
            raise CacheDamaged(
                f"{where}: does not authenticate (moved, replayed, altered, or another key)"
            ) from None


def load_cache_key(path: Path | str) -> bytes:
    """The 32 raw bytes of the key file; refused unless only its owner can read it."""
    path = Path(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        raise CacheKeyError(f"{path}: cannot open the cache key file: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as key_file:
        _check_key_file_mode(path, os.fstat(key_file.fileno()))
        key = key_file.read(CACHE_KEY_BYTES + 1)
    if len(key) != CACHE_KEY_BYTES:
        size = "more" if len(key) > CACHE_KEY_BYTES else str(len(key))
        raise CacheKeyError(f"{path}: a cache key file holds exactly {CACHE_KEY_BYTES} raw "
                            f"bytes, this one holds {size}")
    return key


def _check_key_file_mode(path: Path, status: os.stat_result) -> None:
    if not stat.S_ISREG(status.st_mode):
        raise CacheKeyError(f"{path}: the cache key must be a regular file")
    mode = stat.S_IMODE(status.st_mode)
    if mode & 0o077:
        raise CacheKeyError(
            f"{path}: cache key file has mode {mode:04o}; group and others must have no "
            f"access (run: chmod 600 {path})"
        )


def create_cache_key(path: Path | str) -> bytes:
    """Write a fresh random key with mode 0600 (never over an existing file); return it."""
    path = Path(path)
    key = os.urandom(CACHE_KEY_BYTES)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        raise CacheKeyError(f"{path}: a cache key file already exists; not replacing it") from None
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(key)
        key_file.flush()
        os.fsync(key_file.fileno())
    fsync_directory(path.parent)
    return key


def fsync_directory(directory: Path) -> None:
    """Make a create or rename in ``directory`` durable (POSIX needs the directory synced)."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
