"""What every request and command needs, passed in rather than global: ``ServerContext``.

Owns ``Signals`` (thread-safe wake-ups for the background loops) and ``audit``, and carries
the removal ledger, which services write a revocation to before it commits (``doorward.server.store.ledger``).
A write is one transaction; when it commits, the bundle rebuilder and the alarm delivery are
woken, so a revocation made through the API reaches a held long-poll at once. Writes made by
another process (the CLI) are found by the rebuilder's periodic look at the ``dirty`` flags.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from doorward.server.domain.auth import Passwords
from doorward.server.clock import Clock
from doorward.server.config import ServerConfig
from doorward.server.store.db import Database
from doorward.server.store.keys import ServerKeys
from doorward.server.store.ledger import RemovalLedger


class Signals:
    """asyncio events the loops wait on, settable from any thread (or a no-op without a loop)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.rebuild = asyncio.Event()
        self.deliver = asyncio.Event()
        self.publish = asyncio.Event()  # the MQTT bridge: state, events or alarms changed

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def _set(self, event: asyncio.Event) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(event.set)

    def changed(self) -> None:
        self._set(self.rebuild)
        self._set(self.deliver)
        self._set(self.publish)

    def records(self) -> None:
        """Door records reached an integration after their commit (the MQTT bridge)."""
        self._set(self.publish)

    def alarm(self) -> None:
        """An alarm was stored outside ``write`` (so without waking the rebuilder)."""
        self._set(self.deliver)
        self._set(self.publish)


@dataclass
class ServerContext:
    config: ServerConfig
    clock: Clock
    db: Database
    keys: ServerKeys
    passwords: Passwords = field(default_factory=Passwords)
    signals: Signals = field(default_factory=Signals)
    ledger: RemovalLedger = field(init=False)

    def __post_init__(self) -> None:
        self.ledger = RemovalLedger(self.config.removal_ledger_path)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        with self.db.transaction() as conn:
            yield conn
        self.signals.changed()

    def read(self) -> sqlite3.Connection:
        return self.db.connection()


def audit(conn: sqlite3.Connection, at: float, actor: str, action: str, target: str,
          **detail: Any) -> None:
    """Record an admin action in the same transaction as the action itself."""
    conn.execute("INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?,?,?,?,?)",
                 (at, actor, action, target, json.dumps(detail, sort_keys=True, default=str)))


def mark_devices_dirty(conn: sqlite3.Connection, where: str, params: tuple = ()) -> None:
    """Flag devices for a new bundle; ``where`` is a fixed SQL fragment, never user text."""
    conn.execute(f"UPDATE devices SET dirty = dirty + 1 WHERE {where}", params)


async def wait_either(event: asyncio.Event, stopping: asyncio.Event, timeout_s: float) -> None:
    """Until ``event`` or ``stopping`` is set, or ``timeout_s`` passes: a loop's sleep that
    ends at once on shutdown or on new work."""
    waits = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(stopping.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
