"""The console's templates: one Jinja2 environment over the package's ``templates/`` with
autoescape on for every template and string, and ``render``, which gives every page the
viewer, the menu of their role, the CSRF field's name and ``may(action)``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from doorward.server.console import guard, roles
from doorward.server.console.session import Viewer

templates = Environment(loader=PackageLoader("doorward.server.console", "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True))


def render(request: Request, template: str, viewer: Viewer | None, status: int = 200,
           **values: Any) -> HTMLResponse:
    def may(action: str) -> bool:
        return viewer is not None and roles.may(viewer.role, action)

    page = templates.get_template(template).render(
        viewer=viewer, menu=roles.menu(viewer.role) if viewer else [], path=request.url.path,
        csrf_field=guard.CSRF_FIELD, may=may, **values)
    return HTMLResponse(page, status_code=status)
