"""The admin console in a real browser at 1280x800: Debian's Chromium, headless, Playwright,
against the demo's whole site (``doorward server run``, two doors running ``doorward run`` on
simulated modules and Pis, a kiosk station).

One walk-through: an admin signs in and adds a visitor with a validity window; a grant made
on the command line (the console does not grant yet) moves the Tent door's bundle version on
the board until its module holds the finger; a scan at the Lobby door appears on the open
events page without a reload (the time it took is printed); a forced door raises an alarm that
security acknowledges with a comment; security locks the Lobby zone down after the
confirmation step and the board shows the door's confirmation; the filtered event log
exports as CSV whose rows are those of ``doorward server events --csv``. The page never logs
a script error or a Content-Security-Policy violation.

Screenshots go under the test's tmp folder; ``make screenshots`` sets
``DOORWARD_SCREENSHOTS_DIR`` to copy them into docs/ (``make test`` writes no tracked file).
Chromium missing is a failure, not a skip (`apt-get install -y chromium`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from doorward.sim.rig.server import Account
from doorward.sim.rig.site import ADMIN, DemoSite
from tests.support.e2e import site_fixture

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS_DIR = os.environ.get("DOORWARD_SCREENSHOTS_DIR")  # set only by `make screenshots`
SCREEN = {"width": 1280, "height": 800}
SECURITY = Account("sam", "security", "demo security password 1")
WAIT_MS = 20_000

site = site_fixture(heartbeat_interval_s=1.0)


@pytest.fixture(scope="module")
def chromium() -> Iterator:
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); "
                    "never `playwright install`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class Console:
    """One signed-in browser context at 1280x800, recording script errors and CSP reports."""

    def __init__(self, chromium, site: DemoSite, account: Account, shots: Path) -> None:  # noqa: ANN001
        self.context = chromium.new_context(viewport=SCREEN, accept_downloads=True)
        self.page = self.context.new_page()
        self.url, self.shots, self.problems = site.server.url, shots, []
        self.page.on("console", lambda message: message.type == "error" and self.problems.append(message.text))
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))
        self.page.on("response", lambda answer: answer.status >= 400 and self.problems.append(
            f"{answer.status} {answer.url}"))
        self.page.goto(f"{self.url}/console/")
        self.page.get_by_label("Name").fill(account.name)
        self.page.get_by_label("Password").fill(account.password)
        self.page.keyboard.press("Enter")  # the form submits from the keyboard
        self.page.wait_for_selector("form.signout")

    def open(self, path: str) -> None:
        self.page.goto(f"{self.url}{path}")

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"console-{name}.png"))

    def row_text(self, table: str, contains: str) -> str:
        return self.page.locator(f"table.{table} tbody tr", has_text=contains).first.inner_text()

    def close(self) -> None:
        self.context.close()


def test_the_console_walk_through(site: DemoSite, chromium, tmp_path: Path) -> None:  # noqa: ANN001
    shots = tmp_path / "shots"
    shots.mkdir()
    site.server.add_account(SECURITY)
    admin = Console(chromium, site, ADMIN, shots)
    admin.shot("start")

    # People: a visitor with a window (an admin's decision).
    admin.open("/console/people")
    admin.page.get_by_label("Name", exact=True).fill("Vera Visitor")
    admin.page.get_by_label("Visitor from").fill("2030-01-07 09:00")
    admin.page.get_by_label("Visitor until").fill("2030-01-08")
    admin.page.get_by_role("button", name="Add").click()
    admin.page.wait_for_selector("table.people tbody tr:has-text('Vera Visitor')")
    assert "(not yet valid)" in admin.row_text("people", "Vera Visitor")
    admin.open("/console/people")
    admin.shot("people")

    # Board: a grant moves the Tent door's version until its module holds Carol's finger.
    admin.open("/console/board")
    tent_before = admin.row_text("board", "Tent door")
    issued_before = site.door_record(site.tent)["bundle_version"]
    site.server.cli("grant", site.ids["carol"], site.ids["tent"])
    admin.page.wait_for_function(
        """([before]) => { const row = [...document.querySelectorAll('table.board tbody tr')]
             .find(r => r.textContent.includes('Tent door'));
           const m = row && row.textContent.match(/(\\d+) \\(module (\\d+)\\)/);
           return m && Number(m[1]) > before && m[1] === m[2]; }""", arg=[issued_before], timeout=WAIT_MS)
    tent_after = admin.row_text("board", "Tent door")
    assert tent_after != tent_before and "online" in tent_after
    admin.shot("board")

    # Live events: a scan at the Lobby door appears without a reload.
    admin.open("/console/events")
    carol_rows = "[...document.querySelectorAll('table.events tbody tr')].filter(r => r.textContent.includes('Carol Example')).length"
    seen_before = admin.page.evaluate(f"() => {carol_rows}")
    started = time.monotonic()
    decision = site.lobby.scan("carol/right-index")
    admin.page.wait_for_function(f"() => {carol_rows} > {seen_before}", timeout=WAIT_MS)
    scan_to_screen_s = time.monotonic() - started
    print(f"\nconsole.scan_to_screen_s: {scan_to_screen_s:.2f} (scan, decision, upload, poll, render)")
    newest = admin.row_text("events", "Carol Example")  # newest first; the door's own records beside it
    assert decision["kind"] == "access_granted" and "Carol Example" in newest and "may enter" in newest
    assert "Lobby" in newest
    admin.shot("events")

    # Alarms: a forced door; security acknowledges with a comment.
    site.lobby.wait_locked()  # after Carol's unlock: an opening now is forced
    site.lobby.open_contact()
    time.sleep(0.5)
    site.lobby.close_contact()
    security = Console(chromium, site, SECURITY, shots)
    security.open("/console/alarms")
    security.page.wait_for_selector("table.alarms tbody tr.alarm-open:has-text('forced')", timeout=WAIT_MS)
    security.shot("alarms")
    row = security.page.locator("table.alarms tbody tr.alarm-open", has_text="forced").first
    row.get_by_label("Comment").fill("guard checked: delivery door left open")
    row.get_by_role("button", name="Acknowledge").click()
    security.page.wait_for_selector("table.alarms tbody tr.alarm-acknowledged:has-text('guard checked')")
    assert "security:sam" in security.row_text("alarms", "guard checked")

    # Lockdown of the Lobby zone, confirmed by the door on the board.
    security.open("/console/lockdown")
    security.page.locator("table.lockdown tbody tr", has_text="Lobby").get_by_role("link", name="Lock down").click()
    security.page.wait_for_selector("text=Lock down the zone Lobby?")
    security.shot("lockdown-confirm")
    security.page.get_by_role("button", name="Yes, lock down").click()
    security.open("/console/board")
    security.page.wait_for_function(
        """() => [...document.querySelectorAll('table.board tbody tr')]
             .some(r => r.textContent.includes('Lobby door') && r.textContent.includes('on (zone), confirmed'))""",
        timeout=WAIT_MS)
    security.shot("board-lockdown")
    assert site.lobby.status()["door"]["lockdown"] is True

    # The filtered event log exports as the CLI's CSV.
    until = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    admin.open(f"/console/events?door={site.lobby.door_id}&until={until}")
    admin.page.wait_for_selector("table.events tbody tr")
    with admin.page.expect_download() as download:
        admin.page.get_by_role("link", name="Export CSV").click()
    exported = Path(download.value.path()).read_text()
    printed = site.server.cli("events", "--door", site.lobby.door_id, "--until", until, "--csv")
    assert list(csv.reader(io.StringIO(exported))) == list(csv.reader(io.StringIO(printed)))
    assert len(exported.splitlines()) > 2

    admin.open("/console/audit")
    admin.shot("audit")
    security.open("/console/lockdown")
    security.page.locator("table.lockdown tbody tr", has_text="Lobby").get_by_role("link", name="End lockdown").click()
    security.page.get_by_role("button", name="Yes, end the lockdown").click()
    problems = admin.problems + security.problems
    admin.close()
    security.close()
    assert problems == []
    _publish(shots)


def _publish(shots: Path) -> None:
    if not SCREENSHOTS_DIR:
        return
    target = Path(SCREENSHOTS_DIR) / "console-screenshots"
    target.mkdir(parents=True, exist_ok=True)
    for png in sorted(shots.glob("*.png")):
        shutil.copy(png, target / png.name)
