"""The API's documentation pages, Swagger UI at ``/docs`` and ReDoc at ``/redoc``, served
from the installed package: nothing is loaded from a CDN, so they work on a site network
with no way out.

Owns ``add_docs_pages(app)`` and the vendored assets in ``server/api/docs_assets/`` (package data),
copied unchanged from the ``fastapi-offline`` wheel on PyPI by ``python -m doorward.server.api.docs_pages
WHEEL``, which also records each file's SHA-256 and origin in ``SOURCE.json`` (see
``NOTICE.md`` there for the upstream projects and their licences).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_DIR = Path(__file__).resolve().parent / "docs_assets"
ASSETS_URL = "/docs/assets"
# asset -> where the fastapi-offline wheel keeps it
VENDORED = {name: f"fastapi_offline/static/{name}"
            for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")}
# The default validator badge would fetch an image from validator.swagger.io.
SWAGGER_PARAMETERS = {"validatorUrl": None}
# The pages may load nothing from elsewhere, even what a bundle names itself (ReDoc's sidebar
# logo is an image on its CDN): the browser refuses it before any request leaves. Inline
# scripts run only by their hash; styles are injected by both bundles; ReDoc searches in a
# worker made from a blob.
POLICY = ("default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline';"
          " img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:;"
          " frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def confined(page: HTMLResponse) -> HTMLResponse:
    """The page with a Content-Security-Policy that keeps the browser on this server."""
    hashes = "".join(f" 'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
                     for body in INLINE_SCRIPT.findall(page.body.decode()))
    page.headers["Content-Security-Policy"] = POLICY.format(scripts=hashes)
    return page


def add_docs_pages(app: FastAPI) -> None:
    """Mount the assets and the two pages; the app must be made with docs_url=None and
    redoc_url=None (FastAPI's own pages point at a CDN)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return confined(get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title}: API",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=SWAGGER_PARAMETERS))

    @app.get("/redoc", include_in_schema=False)
    def redoc_page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return confined(get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title}: API",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png", with_google_fonts=False))


def refresh(wheel: Path, target: Path = ASSETS_DIR) -> dict:
    """Copy the assets out of a fastapi-offline wheel into ``target`` and write SOURCE.json."""
    files = {}
    with zipfile.ZipFile(wheel) as archive:
        version = _wheel_version(wheel)
        for name, member in VENDORED.items():
            data = archive.read(member)
            (target / name).write_bytes(data)
            files[name] = {"from": member, "sha256": hashlib.sha256(data).hexdigest()}
    source = {"package": "fastapi-offline", "version": version, "wheel": wheel.name,
              "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(), "files": files}
    (target / "SOURCE.json").write_text(json.dumps(source, indent=2, sort_keys=True) + "\n")
    return source


def _wheel_version(wheel: Path) -> str:
    parts = wheel.name.split("-")
    if len(parts) < 5 or parts[0] != "fastapi_offline":
        raise ValueError(f"{wheel}: not a fastapi_offline wheel (fastapi_offline-VERSION-...whl)")
    return parts[1]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m doorward.server.api.docs_pages WHEEL  (pip download --no-deps fastapi-offline==X)",
              file=sys.stderr)
        return 2
    source = refresh(Path(argv[0]))
    print(f"vendored fastapi-offline {source['version']} into {ASSETS_DIR}; update NOTICE.md if"
          " the Swagger UI or ReDoc versions changed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
