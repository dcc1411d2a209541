"""Errors the services raise, which the API maps to 4xx answers and the CLI prints.

Each message names the field or the object, so a caller can fix the request.
"""

from __future__ import annotations

from typing import Any

from doorward.daemon.codec.bundle import DoorwardError


class ServiceError(DoorwardError):
    status = 400

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class NotFound(ServiceError, LookupError):
    status = 404

    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"no {what} {ident!r}", **{"object": what, "id": ident})


class Conflict(ServiceError):
    status = 409


class Invalid(ServiceError, ValueError):
    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)


class Unauthorised(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class Unavailable(ServiceError):
    status = 503
