"""The kiosk's local web page: the app and its headers, the actions, per-browser state, the
Host and CSRF guard, the admin-only checks, and the page's own files (``web/``, package
data). Served on 127.0.0.1 by ``doorward kiosk serve``.
"""
