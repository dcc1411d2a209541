"""The API documentation pages work with no way out of the site network: /docs and /redoc and
every asset they reference come from the server itself, the assets are the vendored files
recorded in SOURCE.json, and pyproject ships them in the wheel."""

from __future__ import annotations

import hashlib
import zipfile
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from doorward.server.api.docs_pages import ASSETS_DIR, VENDORED, refresh
from tests.support.server import running_server

ROOT = Path(__file__).resolve().parents[2]
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


class References(HTMLParser):
    """Every URL a page makes the browser fetch: src and href attributes, a spec-url."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href", "spec-url") and value]


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    inline_spec = re.findall(r"url: '([^']+)'", html)  # Swagger UI's SwaggerUIBundle({url: ...})
    return parser.urls + inline_spec


def on_host(base: str, reference: str) -> str:
    absolute = urljoin(base, reference)
    assert urlsplit(absolute)[:2] == urlsplit(base)[:2], f"{reference!r} points off the server"
    return absolute


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_a_docs_page_and_everything_it_loads_come_from_the_server(tmp_path, page) -> None:
    with running_server(tmp_path) as server, server.client() as client:
        answer = client.get(page)
        assert answer.status_code == 200 and "text/html" in answer.headers["content-type"]
        assert re.findall(r"(?:https?:)?//[\w.-]+", answer.text) == []  # no CDN, no fonts, no badge
        urls = references(answer.text)
        assert any(url.endswith(".js") for url in urls) and "/openapi.json" in urls, urls
        for url in urls:
            fetched = client.get(on_host(server.url + page, url))
            assert fetched.status_code == 200, url
            suffix = Path(urlsplit(url).path).suffix
            if suffix in CONTENT_TYPES:
                assert CONTENT_TYPES[suffix] in fetched.headers["content-type"], url
                assert fetched.content == (ASSETS_DIR / Path(url).name).read_bytes(), url
        assert client.get("/openapi.json").json()["info"]["title"] == "doorward server"


def test_the_stylesheet_loads_nothing_from_elsewhere() -> None:
    css = (ASSETS_DIR / "swagger-ui.css").read_text()
    outside = [url for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css) if not url.startswith("data:")]
    assert outside == []


def test_the_swagger_page_turns_off_the_online_validator(tmp_path) -> None:
    with running_server(tmp_path) as server, server.client() as client:
        assert '"validatorUrl": null' in client.get("/docs").text


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_pages_policy_lets_the_browser_load_only_from_the_server(tmp_path, page) -> None:
    with running_server(tmp_path) as server, server.client() as client:
        policy = client.get(page).headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'" and directives["connect-src"] == "'self'"
    for name in ("script-src", "img-src", "style-src", "font-src"):
        sources = directives[name].split()
        assert sources[0] == "'self'" and not any(":" in s and s not in ("data:", "blob:") for s in sources)
        assert "'unsafe-eval'" not in sources, name
    assert "'unsafe-inline'" not in directives["script-src"]  # the one inline script runs by its hash


def test_the_vendored_assets_are_the_files_recorded_in_source_json() -> None:
    source = json.loads((ASSETS_DIR / "SOURCE.json").read_text())
    assert source["package"] == "fastapi-offline" and set(source["files"]) == set(VENDORED)
    for name, entry in source["files"].items():
        assert hashlib.sha256((ASSETS_DIR / name).read_bytes()).hexdigest() == entry["sha256"], name


def test_refresh_copies_the_assets_out_of_a_wheel(tmp_path) -> None:

    wheel = tmp_path / "fastapi_offline-9.9.9-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, member in VENDORED.items():
            archive.writestr(member, f"contents of {name}")
    target = tmp_path / "assets"
    target.mkdir()
    source = refresh(wheel, target)
    assert source["version"] == "9.9.9"
    assert (target / "swagger-ui.css").read_text() == "contents of swagger-ui.css"
    assert json.loads((target / "SOURCE.json").read_text())["files"]["favicon.png"]["sha256"] == \
        hashlib.sha256(b"contents of favicon.png").hexdigest()


