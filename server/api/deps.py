"""FastAPI dependencies: the context, the caller, and role checks.

Owns the role table of the API: ``ADMIN`` (admins only), ``ENROL`` (admins and enrollers),
``READ`` (admins, security and auditors), ``RESPOND`` (admins and security: alarms),
``READ_PEOPLE`` (every admin role) and ``DEVICE`` (paired doors and stations). Every endpoint but health, login and pairing depends on one of them.
"""

from __future__ import annotations

from typing import Annotated, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from doorward.server.domain.auth import Principal, principal_for
from doorward.server.bundles.issue import BundleService
from doorward.server.context import ServerContext
from doorward.server.errors import Forbidden, Unauthorised
from doorward.server.bundles.notifier import BundleNotifier

bearer = HTTPBearer(auto_error=False, description="a session token (admins) or a device token")


def get_ctx(request: Request) -> ServerContext:
    return request.app.state.ctx


def get_bundles(request: Request) -> BundleService:
    return request.app.state.bundles


def get_notifier(request: Request) -> BundleNotifier:
    return request.app.state.notifier


def caller(credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
           ctx: ServerContext = Depends(get_ctx)) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthorised("missing bearer token")
    principal = principal_for(ctx.read(), credentials.credentials, ctx.clock.now())
    if principal is None:
        raise Unauthorised("invalid or expired token")
    return principal


def require(*roles: str) -> Callable[..., Principal]:
    def check(principal: Principal = Depends(caller)) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"role {principal.role!r} may not do this (needs {' or '.join(roles)})")
        return principal

    return check


ADMIN = require("admin")
ENROL = require("admin", "enroller")
READ = require("admin", "security", "auditor")
RESPOND = require("admin", "security")
READ_PEOPLE = require("admin", "security", "enroller", "auditor")
DEVICE = require("door", "station")

# Annotated shorthands for route signatures.
Ctx = Annotated[ServerContext, Depends(get_ctx)]
AdminCaller = Annotated[Principal, Depends(ADMIN)]
EnrolCaller = Annotated[Principal, Depends(ENROL)]
ReadCaller = Annotated[Principal, Depends(READ)]
Responder = Annotated[Principal, Depends(RESPOND)]
PeopleReader = Annotated[Principal, Depends(READ_PEOPLE)]
DeviceCaller = Annotated[Principal, Depends(DEVICE)]
