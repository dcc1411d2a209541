"""Signing in and out of the console: the sign-in form (with its own double-submit token,
since there is no session yet), the shared sign-in path of the API (``sign_in``: the same
throttle and audit), the session cookie's flags, and signing out (a CSRF-checked post that
ends the session on the server)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from doorward.server.api.signin import sign_in
from doorward.server.console import guard
from doorward.server.console.rendering import render
from doorward.server.console.session import Posted, form_poster, read_form
from doorward.server.context import ServerContext
from doorward.server.domain import auth
from doorward.server.errors import ServiceError

router = APIRouter(prefix="/console", include_in_schema=False)


def _ctx(request: Request) -> ServerContext:
    return request.app.state.ctx


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request, "", 200)


def _login_page(request: Request, problem: str, status: int, name: str = "") -> HTMLResponse:
    nonce = guard.new_sign_in_nonce()
    answer = render(request, "login.html", None, status, problem=problem, nonce=nonce, name=name,
                    next=guard.safe_next(request.query_params.get("next")))
    answer.set_cookie(guard.SIGN_IN_COOKIE, nonce, httponly=True, samesite="strict", path="/console/",
                      secure=guard.cookie_secure(request.url.scheme, request.url.hostname))
    return answer


@router.post("/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    name, password = form.get("name", "")[:200], form.get("password", "")[:1000]
    if not guard.same_origin(request.headers.get("origin"), request.headers.get("host")) or \
            not guard.nonce_matches(request.cookies.get(guard.SIGN_IN_COOKIE), form.get(guard.CSRF_FIELD)):
        return _login_page(request, "This sign-in form is stale: please try again.", 403, name)
    ctx = _ctx(request)
    try:
        token, _principal, _ends = await run_in_threadpool(sign_in, request, ctx, name, password,
                                                           ctx.config.console_idle_s)
    except ServiceError as error:
        words = "Wrong name or password." if error.status == 401 else error.message
        return _login_page(request, words, error.status, name)
    answer = RedirectResponse(guard.safe_next(form.get("next")), status_code=303)
    answer.set_cookie(guard.SESSION_COOKIE, token, httponly=True, samesite="strict", path="/console/",
                      secure=guard.cookie_secure(request.url.scheme, request.url.hostname))
    answer.delete_cookie(guard.SIGN_IN_COOKIE, path="/console/")
    return answer


@router.post("/logout")
def logout(request: Request, posted: Posted = Depends(form_poster("home"))) -> Response:
    ctx = _ctx(request)
    with ctx.db.transaction() as conn:
        auth.close_session(conn, posted.viewer.token)
    answer = RedirectResponse("/console/login", status_code=303)
    answer.delete_cookie(guard.SESSION_COOKIE, path="/console/")
    return answer
