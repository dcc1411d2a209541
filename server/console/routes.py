"""The console's routes under ``/console/``: thin handlers that check the viewer, call a view
model (``doorward.server.console.views``) and render a template. ``mount_console(app)`` adds
them, the package's assets, the HTML refusals and the security headers to the server's app.

Pages are server-rendered by Jinja2 with autoescape on; the only script is the package's
``static/console.js`` (a poll that swaps a table body for the server's fresh rendering).
Signing in and out is ``doorward.server.console.signing``. Not in the OpenAPI schema: the
API's contract is ``/api/v1``.
"""

from __future__ import annotations

import csv
import io
from typing import Iterator
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from doorward.server.cli.events import CSV_FIELDS, csv_row
from doorward.server.console import signing, views
from doorward.server.console.headers import ConsoleHeaders
from doorward.server.console.rendering import render
from doorward.server.console.session import (Posted, Refused, SignInNeeded, Viewer, form_poster,
                                             page_viewer, watcher)
from doorward.server.context import ServerContext
from doorward.server.domain import alarms, event_log, lockdown, people
from doorward.server.errors import Invalid, ServiceError

router = APIRouter(prefix="/console", include_in_schema=False)
CSV_CHUNK_ROWS = 500


def _ctx(request: Request) -> ServerContext:
    return request.app.state.ctx


# -- pages -------------------------------------------------------------------------------------

@router.get("/")
def home(request: Request, viewer: Viewer = Depends(page_viewer("home"))) -> HTMLResponse:
    return render(request, "home.html", viewer)


@router.get("/board")
def board(request: Request, viewer: Viewer = Depends(page_viewer("board"))) -> HTMLResponse:
    ctx = _ctx(request)
    rows = views.board(ctx.read(), ctx.clock.now(), ctx.config)
    return render(request, "board.html", viewer, rows=rows)


@router.get("/board/rows")
def board_rows(request: Request, viewer: Viewer = Depends(watcher("board"))) -> HTMLResponse:
    ctx = _ctx(request)
    return render(request, "board_rows.html", viewer, rows=views.board(ctx.read(), ctx.clock.now(), ctx.config))


@router.get("/events")
def events(request: Request, viewer: Viewer = Depends(page_viewer("events"))) -> HTMLResponse:
    ctx = _ctx(request)
    conn = ctx.read()
    try:
        filters = views.event_filters(conn, request.query_params, ctx.clock.now())
    except ServiceError as error:
        return render(request, "events.html", viewer, 422, problem=error.message, rows=[], following="",
                      typed={k: request.query_params.get(k, "") for k in views.FIELDS},
                      choices=views.choices(conn), live_query="", export_query="")
    rows, following = views.event_rows(conn, filters)
    kept = {k: v for k, v in filters.typed.items() if v and k != "before"}
    return render(request, "events.html", viewer, problem="", rows=rows, following=following,
                  typed=filters.typed, choices=views.choices(conn), filters=kept,
                  live_query="" if filters.before else _query_text(kept), export_query=_query_text(kept))


def _query_text(values: dict[str, str]) -> str:
    return urlencode(values)


@router.get("/events/rows")
def event_rows(request: Request, viewer: Viewer = Depends(watcher("events"))) -> Response:
    ctx = _ctx(request)
    conn = ctx.read()
    try:
        filters = views.event_filters(conn, request.query_params, ctx.clock.now())
    except ServiceError as error:
        return Response(error.message, status_code=422, media_type="text/plain")
    rows, _ = views.event_rows(conn, filters)
    return render(request, "event_rows.html", viewer, rows=rows)


@router.get("/events.csv")
def events_csv(request: Request, viewer: Viewer = Depends(page_viewer("events.export"))) -> Response:
    ctx = _ctx(request)
    try:
        filters = views.event_filters(ctx.read(), request.query_params, ctx.clock.now())
    except ServiceError as error:
        return Response(error.message, status_code=422, media_type="text/plain")
    return StreamingResponse(_csv_lines(ctx, filters.query), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="events.csv"'})


def _csv_lines(ctx: ServerContext, query: event_log.EventQuery) -> Iterator[str]:
    """The rows ``doorward server events --csv`` prints, oldest first, a chunk at a time, on a
    connection of their own (a long export must not hold a request thread's connection)."""
    conn = ctx.db.connect()
    try:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_FIELDS)
        for count, event in enumerate(event_log.select(conn, query), start=1):
            writer.writerow(csv_row(event))
            if count % CSV_CHUNK_ROWS == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
    finally:
        conn.close()


@router.get("/alarms")
def alarm_list(request: Request, viewer: Viewer = Depends(page_viewer("alarms"))) -> HTMLResponse:
    return _alarms(request, viewer, "", 200)


def _alarms(request: Request, viewer: Viewer, problem: str, status: int) -> HTMLResponse:
    ctx = _ctx(request)
    conn = ctx.read()
    try:
        typed = views.alarm_filters(conn, request.query_params)
        rows = views.alarm_rows(conn, ctx.clock.now(), typed)
    except ServiceError as error:
        typed, rows, problem, status = {}, [], error.message, 422
    return render(request, "alarms.html", viewer, status, rows=rows, typed=typed, problem=problem,
                  choices=views.alarm_choices(conn), live_query=_query_text({k: v for k, v in typed.items() if v}))


@router.get("/alarms/rows")
def alarm_rows(request: Request, viewer: Viewer = Depends(watcher("alarms"))) -> Response:
    ctx = _ctx(request)
    conn = ctx.read()
    try:
        rows = views.alarm_rows(conn, ctx.clock.now(), views.alarm_filters(conn, request.query_params))
    except ServiceError as error:
        return Response(error.message, status_code=422, media_type="text/plain")
    return render(request, "alarm_rows.html", viewer, rows=rows)


@router.post("/alarms/{alarm_id}/acknowledge")
def acknowledge(alarm_id: int, request: Request,
                posted: Posted = Depends(form_poster("alarms.acknowledge"))) -> Response:
    ctx = _ctx(request)
    try:
        with ctx.write() as conn:
            alarms.acknowledge(conn, ctx.clock.now(), posted.viewer.principal.actor, alarm_id,
                               posted.form.get("comment", ""))
    except ServiceError as error:
        return _alarms(request, posted.viewer, error.message, error.status)
    return RedirectResponse("/console/alarms", status_code=303)


@router.get("/lockdown")
def lockdown_page(request: Request, viewer: Viewer = Depends(page_viewer("lockdown.view"))) -> HTMLResponse:
    return render(request, "lockdown.html", viewer, sites=lockdown.status(_ctx(request).read()), problem="")


@router.get("/lockdown/confirm")
def lockdown_confirm(request: Request, viewer: Viewer = Depends(page_viewer("lockdown"))) -> HTMLResponse:
    """The confirmation step: what a lockdown (or its end) will reach, and one button."""
    ctx = _ctx(request)
    state = request.query_params.get("state", "")
    try:
        if state not in ("on", "off"):
            raise Invalid("state", "expected on or off")
        target = views.lockdown_target(ctx.read(), request.query_params.get("target", ""))
    except ServiceError as error:
        return render(request, "lockdown.html", viewer, 422, sites=lockdown.status(ctx.read()),
                      problem=error.message)
    return render(request, "lockdown_confirm.html", viewer, target=target, state=state)


@router.post("/lockdown")
def lockdown_set(request: Request, posted: Posted = Depends(form_poster("lockdown"))) -> Response:
    ctx = _ctx(request)
    form, actor = posted.form, posted.viewer.principal.actor
    try:
        if form.get("state") not in ("on", "off") or form.get("confirm") != "yes":
            raise Invalid("state", "confirm a lockdown with on or off")
        target = views.lockdown_target(ctx.read(), form.get("target", ""))
        with ctx.write() as conn:
            change = lockdown.set_zone if target["kind"] == "zone" else lockdown.set_site
            change(conn, ctx.clock.now(), actor, target["id"], form["state"] == "on", ledger=ctx.ledger)
    except ServiceError as error:
        return render(request, "lockdown.html", posted.viewer, error.status, sites=lockdown.status(ctx.read()),
                      problem=error.message)
    return RedirectResponse("/console/lockdown", status_code=303)


@router.get("/audit")
def audit_page(request: Request, viewer: Viewer = Depends(page_viewer("audit"))) -> HTMLResponse:
    ctx = _ctx(request)
    try:
        typed, rows, following = views.audit_rows(ctx.read(), request.query_params, ctx.clock.now())
    except ServiceError as error:
        typed = {name: request.query_params.get(name, "") for name in views.AUDIT_FIELDS}
        return render(request, "audit.html", viewer, 422, typed=typed, rows=[], following="",
                      problem=error.message, kept="")
    kept = _query_text({k: v for k, v in typed.items() if v and k != "before"})
    return render(request, "audit.html", viewer, typed=typed, rows=rows, following=following, problem="",
                  kept=kept)


@router.get("/people")
def people_page(request: Request, viewer: Viewer = Depends(page_viewer("people"))) -> HTMLResponse:
    return _people(request, viewer, "", 200)


def _people(request: Request, viewer: Viewer, problem: str, status: int,
            typed: dict[str, str] | None = None) -> HTMLResponse:
    ctx = _ctx(request)
    search = request.query_params.get("q", "")
    rows = views.people_rows(ctx.read(), search, ctx.clock.now())
    return render(request, "people.html", viewer, status, rows=rows, search=search, problem=problem,
                  typed=typed or {}, shown=views.PEOPLE_SHOWN)


@router.post("/people")
def people_create(request: Request, posted: Posted = Depends(form_poster("people.create"))) -> Response:
    ctx = _ctx(request)
    viewer = posted.viewer
    try:
        person = views.new_person(posted.form, ctx.clock.now())
        if person.changes_who_enters and viewer.role != "admin":
            raise Refused(viewer, "only an admin may give a person a validity window or the security role")
        with ctx.write() as conn:
            people.create_person(conn, ctx.clock.now(), viewer.principal.actor, name=person.name,
                                 roles=list(person.roles), valid_from=person.valid_from,
                                 valid_until=person.valid_until)
    except ServiceError as error:
        return _people(request, viewer, error.message, error.status, posted.form)
    return RedirectResponse(f"/console/people?q={quote(person.name)}", status_code=303)


# -- refusals and mounting ---------------------------------------------------------------------

async def _sign_in_needed(request: Request, error: SignInNeeded) -> Response:
    if error.poll or request.method != "GET":
        return Response("sign in first", status_code=401, media_type="text/plain")
    return RedirectResponse(f"/console/login?next={quote(request.url.path)}", status_code=303)


async def _refused(request: Request, error: Refused) -> Response:
    return render(request, "refused.html", error.viewer, 403, message=error.message)


ROUTERS = (signing.router, router)


def mount_console(app: FastAPI) -> None:
    for each in ROUTERS:
        app.include_router(each)
    app.mount("/console/static", StaticFiles(packages=[("doorward.server.console", "static")]),
              name="console-static")
    app.add_exception_handler(SignInNeeded, _sign_in_needed)
    app.add_exception_handler(Refused, _refused)
    app.add_middleware(ConsoleHeaders)
