"""Who is calling: admin passwords (argon2), sessions and device tokens, roles.

Owns ``Principal``, token hashing and the role table. Tokens are 256-bit random values; only
their SHA-256 is stored, so a database copy holds no usable credential. There are no default
accounts: the first admin comes from ``doorward server add-admin``.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from doorward.server.store.db import new_id
from doorward.server.errors import Conflict, Invalid

# admin: everything; security: watches, acknowledges alarms and locks down, changes no grant;
# enroller: the kiosk's work; auditor: reads everything, changes nothing.
ADMIN_ROLES = ("admin", "security", "enroller", "auditor")
DEVICE_ROLES = ("door", "station")
MIN_PASSWORD_CHARS = 12


@dataclass(frozen=True)
class Principal:
    kind: str  # "admin" or "device"
    ident: str
    name: str
    role: str

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"{self.role}:{self.name}"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Passwords:
    """argon2id with the library's defaults; a dummy hash keeps unknown names as slow as known."""

    def __init__(self) -> None:
        self._hasher = PasswordHasher()
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False


def create_admin(conn: sqlite3.Connection, passwords: Passwords, name: str, role: str,
                 password: str, now: float) -> str:
    if role not in ADMIN_ROLES:
        raise Invalid("role", f"expected one of {', '.join(ADMIN_ROLES)}, got {role!r}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise Invalid("password", f"must be at least {MIN_PASSWORD_CHARS} characters")
    if conn.execute("SELECT 1 FROM admins WHERE name = ?", (name,)).fetchone():
        raise Conflict(f"admin {name!r} already exists")
    ident = new_id("a")
    conn.execute("INSERT INTO admins (id, name, role, password_hash, created_at) VALUES (?,?,?,?,?)",
                 (ident, name, role, passwords.hash(password), now))
    return ident


def open_session(conn: sqlite3.Connection, passwords: Passwords, name: str, password: str,
                 now: float, session_s: float) -> tuple[str, Principal, float] | None:
    row = conn.execute("SELECT id, name, role, password_hash FROM admins WHERE name = ?",
                       (name,)).fetchone()
    if not passwords.verify(row["password_hash"] if row else None, password) or row is None:
        return None
    token = new_token()
    conn.execute("INSERT INTO sessions (token_sha256, admin_id, created_at, expires_at) VALUES (?,?,?,?)",
                 (hash_token(token), row["id"], now, now + session_s))
    conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
    return token, Principal("admin", row["id"], row["name"], row["role"]), now + session_s


def principal_for(conn: sqlite3.Connection, token: str, now: float) -> Principal | None:
    digest = hash_token(token)
    row = conn.execute(
        "SELECT a.id, a.name, a.role FROM sessions s JOIN admins a ON a.id = s.admin_id"
        " WHERE s.token_sha256 = ? AND s.expires_at > ?", (digest, now)).fetchone()
    if row:
        return Principal("admin", row["id"], row["name"], row["role"])
    row = conn.execute("SELECT id, name, kind FROM devices WHERE token_sha256 = ?", (digest,)).fetchone()
    if row:
        return Principal("device", row["id"], row["name"], row["kind"])
    return None


def extend_session(conn: sqlite3.Connection, token: str, now: float, idle_s: float,
                   longest_s: float) -> None:
    """Slide a console session's end to ``idle_s`` from now, never past ``longest_s`` after it
    opened: a session nobody uses ends after ``idle_s`` (idle sign-out)."""
    conn.execute("UPDATE sessions SET expires_at = MIN(created_at + ?, ? + ?) WHERE token_sha256 = ?"
                 " AND expires_at > ?", (longest_s, now, idle_s, hash_token(token), now))


def close_session(conn: sqlite3.Connection, token: str) -> None:
    conn.execute("DELETE FROM sessions WHERE token_sha256 = ?", (hash_token(token),))
