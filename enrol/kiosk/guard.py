"""What keeps other local programs and web pages from driving the kiosk.

Owns ``allowed_hosts``, ``check_host``, ``check_write`` and ``COOKIE``. The kiosk listens on
127.0.0.1 only, but any local process, and any web page the kiosk's own browser might load,
can reach loopback. So:

- the ``Host`` header must be ``127.0.0.1:PORT`` or ``localhost:PORT`` (a DNS-rebinding page
  arrives with its own host name);
- the session cookie is ``HttpOnly; SameSite=Strict``: a request started by another site
  carries no cookie;
- every write carries the session's CSRF token in ``X-CSRF-Token`` (a header a cross-site
  form cannot set), compared in constant time, and a present ``Origin`` must be ours;
- every write needs a signed-in operator; the station's device token means nothing here
  (the kiosk reads no ``Authorization`` header at all).
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

COOKIE = "doorward_kiosk"
CSRF_HEADER = "x-csrf-token"


def allowed_hosts(port: int) -> frozenset[str]:
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})


def check_host(request: Request, hosts: frozenset[str]) -> None:
    host = request.headers.get("host", "")
    if host not in hosts:
        raise HTTPException(421, f"this kiosk answers only to {' or '.join(sorted(hosts))}")


def check_write(request: Request, hosts: frozenset[str], csrf: str | None) -> None:
    """Origin (when the browser sends one) and the CSRF token of the cookie's session."""
    origin = request.headers.get("origin")
    if origin is not None and origin.removeprefix("http://") not in hosts:
        raise HTTPException(403, "cross-origin request refused")
    sent = request.headers.get(CSRF_HEADER, "")
    if csrf is None or not sent or not hmac.compare_digest(sent.encode(), csrf.encode()):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page")


def cookie_header(value: str) -> str:
    # No Secure flag: the page is plain http on loopback, which never leaves the machine.
    return f"{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict"
