"""Swagger UI and ReDoc render in a real browser that may reach nothing but the server
(Debian's /usr/bin/chromium through playwright; every request elsewhere is refused and
recorded). Before the assets were vendored, /docs stayed blank offline. The pages'
Content-Security-Policy stops what a bundle itself would fetch from elsewhere (ReDoc's logo)
before it leaves the browser, and lets everything the page needs run."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

from tests.support.server import running_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RENDERED = {"/docs": ".opblock-summary-path", "/redoc": "[data-section-id^='tag/'], [data-section-id^='operation/']"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_page_renders_with_nothing_reachable_but_the_server(tmp_path, page) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)")
    refused: list[str] = []
    with running_server(tmp_path) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context()
            context.route("**/*", lambda route: _only_the_server(route, server.url, refused))
            tab = context.new_page()
            blocked: list[str] = []
            tab.on("console", lambda message: blocked.append(message.text)
                   if "Content Security Policy" in message.text else None)  # what the policy stopped
            tab.goto(server.url + page)
            tab.wait_for_selector(RENDERED[page], timeout=30_000)  # operations listed: not blank
            assert "/api/v1/health" in tab.content()
        finally:
            browser.close()
    assert refused == []  # not one request left for another host
    assert [text for text in blocked if "img-src" not in text] == []  # no script or style was stopped


def _only_the_server(route, server_url: str, refused: list[str]) -> None:  # noqa: ANN001
    if urlsplit(route.request.url)[:2] == urlsplit(server_url)[:2]:
        route.continue_()
    else:
        refused.append(route.request.url)
        route.abort()
