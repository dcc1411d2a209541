"""Signing in with a name and password: the one path the API's ``POST /sessions`` and the
console's sign-in form share, so both count failures in the same ``LoginThrottle``
(``doorward.server.api.throttle``) and audit the same way."""

from __future__ import annotations

from fastapi import Request

from doorward.server.context import ServerContext, audit
from doorward.server.domain import auth
from doorward.server.domain.auth import Principal
from doorward.server.errors import Unauthorised


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


def sign_in(request: Request, ctx: ServerContext, name: str, password: str,
            session_s: float) -> tuple[str, Principal, float]:
    """A new session (token, who, expiry), or TooManyAttempts (429) / Unauthorised (401)."""
    now, throttle = ctx.clock.now(), request.app.state.login_throttle
    address = client_address(request)
    throttle.check(name, address, now)
    with ctx.db.transaction() as conn:
        opened = auth.open_session(conn, ctx.passwords, name, password, now, session_s)
        audit(conn, now, f"login:{name}", "session.open" if opened else "session.refused", name,
              address=address)
    if opened is None:
        throttle.failed(name, address, now)
        raise Unauthorised("wrong name or password")
    throttle.succeeded(name, address, now)
    return opened
