"""One walk-through in a real browser: Debian's Chromium, headless, driven by Playwright.

Against the kiosk on the simulated R503 and the reference server on loopback; the person's
finger is placed and lifted through the simulator's control socket whenever the page asks.
What the page shows is checked at each step and screenshots are saved under the test's tmp
folder; ``make screenshots`` sets ``DOORWARD_SCREENSHOTS_DIR`` to copy them into the docs
(``make test`` never writes a tracked file). Chromium missing is a failure, not a skip:
CI installs it (`apt-get install -y chromium`); never `playwright install`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.kioskhelpers import ADMIN_PASSWORD, kiosk_rig

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS_DIR = os.environ.get("DOORWARD_SCREENSHOTS_DIR")  # set only by `make screenshots`
ALICE = "alice/right-index"


def launch(playwright):  # noqa: ANN001, ANN201
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); "
                    "never `playwright install`")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


class Walk:
    def __init__(self, page, shots: Path) -> None:  # noqa: ANN001
        self.page, self.shots, self.count = page, shots, 0

    def shot(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.shots / f"{self.count:02d}-{name}.png"))

    def screen(self, name: str) -> None:
        self.page.wait_for_selector(f"body[data-screen={name}]", timeout=15_000)

    def text(self, selector: str) -> str:
        return self.page.locator(selector).inner_text()


def test_an_operator_enrols_a_person_in_the_browser(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    shots = tmp_path / "shots"
    shots.mkdir()
    with kiosk_rig(tmp_path / "rig") as rig, sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1024, "height": 768})
        walk = Walk(page, shots)
        page.goto(f"{rig.url}/")
        walk.screen("signed_out")
        page.wait_for_selector("body[data-live=yes]")
        walk.shot("sign-in")
        page.get_by_label("Your name").fill("erin")
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.keyboard.press("Enter")  # keyboard-usable: the form submits on Enter
        walk.screen("person")
        assert "erin" in walk.text("#operator")
        page.get_by_label("Name", exact=True).fill("Bo")
        page.get_by_role("button", name="Search").click()
        page.get_by_role("button", name="Bob").wait_for()
        walk.shot("find-person")
        page.get_by_label("New person's full name").fill("Alice Example")
        page.get_by_role("button", name="Add new person").click()
        walk.screen("consent")
        walk.shot("consent")
        page.get_by_label("Signed consent form reference").fill("form 42")
        page.get_by_role("button", name="Consent recorded: continue").click()
        walk.screen("finger")
        walk.shot("choose-finger")
        page.get_by_role("button", name="right index finger").click()
        walk.screen("capturing")
        _place_when_asked(rig, page, walk)
        walk.screen("finger")
        assert "enrolled" in walk.text("#notice")
        assert "right index finger" in walk.text("#captured")
        walk.shot("finger-done")
        page.get_by_role("button", name="Send to the server").click()
        page.wait_for_selector("#notice.tone-ok >> text=stored on the server")
        walk.shot("sent")
        page.get_by_role("button", name="Sign out").click()
        walk.screen("signed_out")
        browser.close()
        assert [p["name"] for p in rig.people()].count("Alice Example") == 1
    _publish(shots)


def _place_when_asked(rig, page, walk: Walk) -> None:  # noqa: ANN001
    """Play the person: place on "place"/"confirm", lift on "lift", until the finger is done."""
    seen: list[str] = []
    while page.locator("body[data-screen=capturing]").count():
        key = page.locator("#instruction").get_attribute("data-key") or ""
        if seen[-1:] != [key]:
            seen.append(key)
            if key in ("place", "confirm"):
                assert "right index finger" in walk.text("#instruction")
                assert page.locator("#f-right-index.chosen").count() == 1  # the picture
                walk.shot(f"{key}-{len(seen)}") if len(seen) < 4 or key == "confirm" else None
                rig.control({"place": ALICE})
            elif key in ("lift", "lift_again"):
                rig.control({"lift": True})
        page.wait_for_timeout(20)
    assert seen.count("place") == 4 and "confirm" in seen


def _publish(shots: Path) -> None:
    """One small set for the docs, only when asked; PNGs of a flat page are tens of kB each."""
    if not SCREENSHOTS_DIR:
        return
    target = Path(SCREENSHOTS_DIR) / "kiosk-screenshots"
    target.mkdir(parents=True, exist_ok=True)
    for png in sorted(shots.glob("*.png")):
        if png.stat().st_size < 200_000:
            shutil.copy(png, target / png.name)
