"""The kiosk's per-browser state: who is signed in, the enrolment, the live progress feed.

Owns ``Broadcaster`` (progress and state pushed to the page's server-sent-event streams,
from any thread), ``KioskSession`` (one browser: its CSRF token, the operator, the
``EnrolmentSession``, what the page shows) and ``SessionBook`` (the sessions by cookie, with
the two-minute idle timeout). The server session token and the templates stay here, in the
kiosk process; the browser only ever holds a random cookie and a CSRF token.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from doorward.enrol.kiosk.admin import is_admin
from doorward.enrol.progress import Progress
from doorward.enrol.server_api import OperatorApi
from doorward.enrol.session import EnrolmentSession
from doorward.enrol.strings import operator_only, say

log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 120.0
OUTCOMES = frozenset({"sent", "unable_recorded"})  # reported by the session; shown as notices


class Broadcaster:
    """Fan-out of page updates to every open event stream of one session."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = []
        self._sequence = 0

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        with self._lock:
            self._subscribers.append((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        with self._lock:
            self._subscribers = [(loop, q) for loop, q in self._subscribers if q is not queue]

    def publish(self, kind: str, data: dict) -> None:
        with self._lock:
            self._sequence += 1
            message = (self._sequence, kind, data)
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, message)
            except RuntimeError:  # the stream's loop has closed: it is going away
                self.unsubscribe(queue)


@dataclass
class KioskSession:
    cookie: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    api: OperatorApi | None = None
    enrolment: EnrolmentSession | None = None
    last_seen: float = field(default_factory=time.monotonic)
    notice: dict | None = None  # the last outcome, for the person and the operator
    instruction: dict | None = None  # the current step's instruction
    operator_notes: list[str] = field(default_factory=list)
    feed: Broadcaster = field(default_factory=Broadcaster)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def signed_in(self) -> bool:
        return self.api is not None

    def report(self, progress: Progress) -> None:
        """A workflow step's progress (any thread): operator notes apart, then pushed."""
        self.last_seen = time.monotonic()  # a person at the glass is activity too
        event = progress.as_json()
        if progress.key in OUTCOMES:
            self.tell(progress.key, progress.tone, **progress.fields)
        elif operator_only(progress.key):
            self.operator_notes.append(event["text"])
            self.feed.publish("operator", event)
        else:
            self.instruction = event
            self.feed.publish("progress", event)

    def tell(self, key: str, tone: str = "info", operator_note: str = "", **fields: Any) -> None:
        self.notice = {"key": key, "text": say(key, **fields), "tone": tone}
        if operator_note:
            self.operator_notes.append(operator_note)
        self.push_state()

    def push_state(self) -> None:
        self.feed.publish("state", self.view())

    def sign_out(self, key: str = "signed_out") -> None:
        with self.lock:
            if self.enrolment is not None:
                self.enrolment.forget()
            api, self.api, self.enrolment = self.api, None, None
            self.instruction, self.operator_notes = None, []
            # Said before the server is told: the page must never show a signed-out screen
            # without saying why, however long the server takes to answer.
            self.notice = {"key": key, "text": say(key), "tone": "info"}
        self.push_state()
        if api is not None:
            try:
                api.sign_out()
            except Exception as error:  # noqa: BLE001 - the local sign-out stands regardless
                log.warning("closing the operator's server session failed: %s", error)

    # ---- what the page shows ----

    def screen(self) -> str:
        e = self.enrolment
        if not self.signed_in or e is None:
            return "signed_out"
        if e.person is None:
            return "person"
        if e.consent_reference is None:
            return "consent"
        return "capturing" if e.capturing else "finger"

    def view(self) -> dict:
        e = self.enrolment
        return {
            "screen": self.screen(),
            "operator": self._operator_view(),
            "person": None if e is None else e.person,
            "consent": None if e is None else e.consent_reference,
            "window": None if e is None or e.window is None else e.window.as_json(),
            "enrolled": [] if e is None else e.enrolled,  # on the server: id, name, duress
            "captured": [] if e is None else [f.finger for f in e.fingers],
            "duress": [] if e is None else [f.finger for f in e.fingers if f.duress],
            "instruction": self.instruction if e is not None and e.capturing else None,
            "notice": self.notice,
            "operator_notes": self.operator_notes[-5:],
            "idle_timeout_s": IDLE_TIMEOUT_S,
        }


    def _operator_view(self) -> dict | None:
        if self.api is None:
            return None
        operator = self.api.operator
        # "admin" shows the duress and validity controls; the actions check the role again
        return {"name": operator.name, "role": operator.role, "admin": is_admin(operator.role)}


class SessionBook:
    """Sessions by cookie; idle ones are signed out by a reaper thread."""

    def __init__(self, idle_timeout_s: float = IDLE_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._sessions: dict[str, KioskSession] = {}
        self._lock = threading.Lock()
        self.idle_timeout_s, self._clock = idle_timeout_s, clock
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="kiosk-idle", daemon=True)

    def start(self) -> None:
        self._reaper.start()

    def stop(self) -> None:
        self._stop.set()
        for session in list(self._sessions.values()):
            if session.signed_in:
                session.sign_out()

    def get(self, cookie: str | None) -> KioskSession | None:
        with self._lock:
            return self._sessions.get(cookie or "")

    def new(self) -> KioskSession:
        session = KioskSession(secrets.token_urlsafe(32))
        with self._lock:
            self._sessions[session.cookie] = session
        return session

    def touch(self, session: KioskSession) -> None:
        session.last_seen = self._clock()

    def _reap(self) -> None:
        while not self._stop.wait(min(1.0, self.idle_timeout_s / 4)):
            now = self._clock()
            for session in list(self._sessions.values()):
                idle = now - session.last_seen >= self.idle_timeout_s
                if idle and session.signed_in and not self._capturing(session):
                    session.sign_out("idle_signed_out")

    @staticmethod
    def _capturing(session: KioskSession) -> bool:
        return session.enrolment is not None and session.enrolment.capturing
