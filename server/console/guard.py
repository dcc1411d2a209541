"""The console's browser-facing safeguards, as pure functions: cookie flags, CSRF tokens,
the same-origin check of a form post, and the headers every console answer carries.

A CSRF token is an HMAC of a fixed label keyed with the session token: bound to the session,
the same in every server process (no shared secret to distribute), and useless without the
HttpOnly cookie it derives from. Before sign-in, the sign-in form uses a random double-submit
value in a cookie of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

SESSION_COOKIE = "doorward_console"
SIGN_IN_COOKIE = "doorward_console_sign_in"
CSRF_FIELD = "csrf"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self';"
       " object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def csrf_token(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"doorward console csrf", hashlib.sha256).hexdigest()


def csrf_matches(session_token: str, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(csrf_token(session_token), submitted or "")


def new_sign_in_nonce() -> str:
    return secrets.token_urlsafe(24)


def nonce_matches(cookie: str | None, submitted: str | None) -> bool:
    return bool(cookie) and bool(submitted) and hmac.compare_digest(cookie or "", submitted or "")


def is_loopback(hostname: str | None) -> bool:
    if not hostname:
        return False
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def cookie_secure(scheme: str, hostname: str | None) -> bool:
    """Secure, except for plain HTTP on loopback (where a browser would never send it back)."""
    return not (scheme == "http" and is_loopback(hostname))


def same_origin(origin: str | None, host: str | None) -> bool:
    """A form post from this site: an Origin header, when the browser sends one, names our
    host. (Browsers send it on every cross-site post; its absence is a same-site client.)"""
    if origin is None:
        return True
    if origin == "null" or not host:
        return False
    return urlsplit(origin).netloc.lower() == host.lower()


def safe_next(path: str | None) -> str:
    """Where to go after sign-in: a console path only, never another site."""
    if path and path.startswith("/console/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/console/"
