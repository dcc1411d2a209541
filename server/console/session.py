"""Who is looking at a console page: the session cookie turned into a ``Viewer``, the role
check, idle sign-out, and the CSRF check of every form post.

Owns ``Viewer``, the two refusals the console answers in HTML (``SignInNeeded``, ``Refused``)
and the FastAPI dependencies ``page_viewer`` (a page: slides the idle deadline),
``watcher`` (a poll: does not, so an open board does not keep a session alive) and
``form_poster`` (a state change: session, role, same origin, CSRF token).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from doorward.server.console import guard, roles
from doorward.server.context import ServerContext
from doorward.server.domain import auth
from doorward.server.domain.auth import Principal

MAX_FORM_FIELDS = 50


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    token: str

    @property
    def csrf(self) -> str:
        return guard.csrf_token(self.token)

    @property
    def role(self) -> str:
        return self.principal.role


class SignInNeeded(Exception):
    """No valid session: a page redirects to the sign-in form, a poll answers 401."""

    def __init__(self, poll: bool = False) -> None:
        super().__init__("sign in first")
        self.poll = poll


class Refused(Exception):
    """Signed in, but this role may not do this (403), or a post without a valid token."""

    def __init__(self, viewer: Viewer | None, message: str) -> None:
        super().__init__(message)
        self.viewer, self.message = viewer, message


def _ctx(request: Request) -> ServerContext:
    return request.app.state.ctx


def current_viewer(request: Request, action: str, *, touch: bool, poll: bool = False) -> Viewer:
    ctx = _ctx(request)
    token = request.cookies.get(guard.SESSION_COOKIE)
    if not token:
        raise SignInNeeded(poll)
    now = ctx.clock.now()
    principal = auth.principal_for(ctx.read(), token, now)
    if principal is None or principal.kind != "admin":  # a device token is no console session
        raise SignInNeeded(poll)
    viewer = Viewer(principal, token)
    if not roles.may(principal.role, action):
        raise Refused(viewer, f"the {principal.role} role may not do this")
    if touch:
        with ctx.db.transaction() as conn:
            auth.extend_session(conn, token, now, ctx.config.console_idle_s, ctx.config.session_s)
    return viewer


def page_viewer(action: str) -> Callable[[Request], Viewer]:
    def dependency(request: Request) -> Viewer:
        return current_viewer(request, action, touch=True)
    return dependency


def watcher(action: str) -> Callable[[Request], Viewer]:
    def dependency(request: Request) -> Viewer:
        return current_viewer(request, action, touch=False, poll=True)
    return dependency


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form (the body is already capped by ``BodyLimit``); the last of repeats."""
    body = (await request.body()).decode("utf-8", "replace")
    try:
        return dict(parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
    except ValueError:
        return {}


@dataclass(frozen=True)
class Posted:
    viewer: Viewer
    form: dict[str, str]


def form_poster(action: str) -> Callable[..., object]:
    async def dependency(request: Request) -> Posted:
        viewer = await run_in_threadpool(current_viewer, request, action, touch=True)
        form = await read_form(request)
        if not guard.same_origin(request.headers.get("origin"), request.headers.get("host")):
            raise Refused(viewer, "this form was posted from another site")
        if not guard.csrf_matches(viewer.token, form.get(guard.CSRF_FIELD)):
            raise Refused(viewer, "this form is stale or was not made by the console: reload the page")
        return Posted(viewer, form)
    return dependency
