"""The kiosk in a real browser on a 7-inch 800x480 screen: Debian's Chromium, headless, Playwright.

Against the kiosk on the simulated R503 and the reference server on loopback; the person's
finger is placed and lifted through the simulator's control socket whenever the page asks.
At every step the page must fit the screen: nothing scrolls, and the step's primary action
and its current message lie inside the viewport. Screenshots are saved under the test's tmp
folder; ``make screenshots`` sets ``DOORWARD_SCREENSHOTS_DIR`` to copy them into the docs
(``make test`` never writes a tracked file). Chromium missing is a failure, not a skip: CI
installs it (`apt-get install -y chromium`); never `playwright install`.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.kiosk import ADMIN_PASSWORD, KioskRig, kiosk_rig

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS_DIR = os.environ.get("DOORWARD_SCREENSHOTS_DIR")  # set only by `make screenshots`
SCREEN = {"width": 800, "height": 480}  # the official 7-inch Raspberry Pi touch display
VERA, VERA_DURESS = "vera/right-index", "vera/left-little"

# What "fits" means, measured in the page: no scrolling anywhere but inside the lists meant to
# scroll, and no box of the current screen outside the viewport.
PAGE_PROBLEMS = """() => {
  const problems = [], doc = document.scrollingElement;
  if (doc.scrollHeight > innerHeight || doc.scrollWidth > innerWidth)
    problems.push(`the page scrolls: ${doc.scrollWidth}x${doc.scrollHeight}`);
  for (const box of [document.querySelector("main"), ...document.querySelectorAll("main > section:not([hidden])")])
    if (box.scrollHeight > box.clientHeight + 1 || box.scrollWidth > box.clientWidth + 1)
      problems.push(`${box.id || box.tagName} overflows: ${box.scrollWidth}x${box.scrollHeight} in ${box.clientWidth}x${box.clientHeight}`);
  return problems;
}"""


def launch(playwright):  # noqa: ANN001, ANN201
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); "
                    "never `playwright install`")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


@pytest.fixture(scope="module")
def rig(tmp_path_factory) -> Iterator[KioskRig]:
    with kiosk_rig(Path(tmp_path_factory.mktemp("kiosk"))) as rig:
        yield rig


@pytest.fixture(scope="module")
def chromium() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


class Walk:
    """One page at 800x480, with the checks every step makes."""

    def __init__(self, chromium, rig: KioskRig, shots: Path) -> None:  # noqa: ANN001
        self.page = chromium.new_page(viewport=SCREEN)
        self.rig, self.shots, self.count = rig, shots, 0
        self.page.goto(f"{rig.url}/")
        self.screen("signed_out")
        self.page.wait_for_selector("body[data-live=yes]")

    def shot(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.shots / f"{self.count:02d}-{name}.png"))

    def screen(self, name: str) -> None:
        self.page.wait_for_selector(f"body[data-screen={name}]", timeout=15_000)

    def text(self, selector: str) -> str:
        return self.page.locator(selector).inner_text()

    def button(self, name: str, exact: bool = False):  # noqa: ANN201
        return self.page.get_by_role("button", name=name, exact=exact)

    def fits(self, *shown) -> None:  # noqa: ANN002 - Playwright locators or CSS selectors
        """Nothing scrolls, and each of ``shown`` is visible and wholly inside the viewport
        (when not, the screen is saved as ``not-fitting.png`` beside the screenshots)."""
        problems = self.page.evaluate(PAGE_PROBLEMS)
        for item in shown:
            locator = self.page.locator(item) if isinstance(item, str) else item
            box = locator.bounding_box() if locator.is_visible() else None
            inside = box is not None and (
                box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= SCREEN["width"]
                and box["y"] + box["height"] <= SCREEN["height"])  # fmt: skip
            if not inside:
                problems.append(f"{item} is not wholly on the 800x480 screen: {box}")
        if problems:
            self.page.screenshot(path=str(self.shots / "not-fitting.png"))
        assert problems == []

    def sign_in(self, name: str, password: str = ADMIN_PASSWORD) -> None:
        self.page.get_by_label("Your name").fill(name)
        self.page.get_by_label("Password").fill(password)
        self.page.keyboard.press("Enter")  # keyboard-usable: the form submits on Enter


def local_input(epoch: float) -> str:
    """How a datetime-local field is typed: the kiosk's local time, to the minute."""
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%dT%H:%M")


def test_an_admin_enrols_a_visitor_with_a_duress_finger_on_the_7_inch_screen(
        rig: KioskRig, chromium, tmp_path: Path) -> None:  # noqa: ANN001
    shots = tmp_path / "shots"
    shots.mkdir()
    walk = Walk(chromium, rig, shots)
    page = walk.page
    walk.fits(walk.button("Sign in"), "#h-sign-in")
    walk.shot("sign-in")
    walk.sign_in("root")
    walk.screen("person")
    assert "root (admin)" in walk.text("#operator")
    page.get_by_label("Name", exact=True).fill("Bo")
    walk.button("Search").click()
    walk.button("Bob").wait_for()
    walk.fits(walk.button("Add new person"), walk.button("Bob"), "#h-person")
    walk.shot("find-person")
    page.get_by_label("New person's full name").fill("Vera Visitor")
    walk.button("Add new person").click()
    walk.screen("consent")

    starts, ends = time.time() + 60, time.time() + 8 * 3600  # a visit today, for eight hours
    page.get_by_label("Signed consent form reference").fill("form 42")
    page.get_by_label("Valid from").fill(local_input(starts))
    page.get_by_label("Valid until").fill(local_input(ends))
    walk.fits(walk.button("Consent recorded: continue"), "#window", "#h-consent")
    walk.shot("consent-and-visit")
    walk.button("Consent recorded: continue").click()
    walk.screen("finger")
    walk.fits(walk.button("right index finger"), walk.button("left little finger"),
              "#duress-toggle", walk.button("Next person"))  # fmt: skip
    walk.shot("choose-finger")

    walk.button("right index finger").click()
    _place_when_asked(walk, VERA, "right index finger", "f-right-index", shoot=True)
    assert "enrolled" in walk.text("#notice")
    walk.fits("#notice", walk.button("Send to the server"), "#captured")
    walk.shot("finger-done")

    page.get_by_label("Duress finger").check()
    walk.shot("duress-chosen")
    walk.button("left little finger").click()
    _place_when_asked(walk, VERA_DURESS, "left little finger", "f-left-little")
    assert "left little finger (duress)" in walk.text("#captured")
    walk.button("Send to the server").click()
    page.wait_for_selector("#notice.tone-ok >> text=2 finger(s) stored on the server")
    walk.fits("#notice", walk.button("Next person"))
    assert "enrolled" in walk.text("[data-finger=right-index]")  # marked in the picker
    assert "duress" in walk.text("[data-finger=left-little]")
    walk.shot("sent")

    vera = next(p for p in rig.people() if p["name"] == "Vera Visitor")
    record = rig.admin.get(f"/api/v1/people/{vera['id']}").json()
    assert {f["name"]: f["duress"] for f in record["fingers"]} == {"right-index": False,
                                                                   "left-little": True}
    assert abs(record["valid_from"] - starts) < 60 and abs(record["valid_until"] - ends) < 60

    walk.button("right index finger").click()  # enrolled: touching it enrols it again
    _place_when_asked(walk, VERA, "right index finger", "f-right-index")
    walk.button("Send to the server").click()
    page.wait_for_selector("#notice.tone-ok >> text=1 finger(s) stored on the server")
    again = rig.admin.get(f"/api/v1/people/{vera['id']}").json()["fingers"]
    old = {f["name"]: f["id"] for f in record["fingers"]}
    assert sorted(f["name"] for f in again) == ["left-little", "right-index"]
    assert next(f["id"] for f in again if f["name"] == "right-index") != old["right-index"]
    walk.button("Sign out").click()
    walk.screen("signed_out")
    walk.fits("#notice", walk.button("Sign in"))
    page.close()
    _publish(shots)


def test_an_enroller_is_offered_no_duress_or_window_and_a_refused_sign_in_keeps_the_name(
        rig: KioskRig, chromium, tmp_path: Path) -> None:  # noqa: ANN001
    walk = Walk(chromium, rig, tmp_path)
    page = walk.page
    walk.sign_in("erin", "not the password")
    page.wait_for_selector("#notice.tone-error")
    walk.fits("#notice", walk.button("Sign in"))
    walk.shot("sign-in-refused")
    assert page.get_by_label("Your name").input_value() == "erin"
    assert page.get_by_label("Password").input_value() == ""
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.keyboard.press("Enter")
    walk.screen("person")
    page.get_by_label("Name", exact=True).fill("Bob")
    walk.button("Search").click()
    walk.button("Bob", exact=True).click()
    walk.screen("consent")
    page.locator("#person-record >> text=right index finger").wait_for()
    assert not page.locator("#window").is_visible()
    walk.fits(walk.button("Consent recorded: continue"), "#person-record")
    walk.shot("existing-person")
    page.get_by_label("Signed consent form reference").fill("form 43")
    walk.button("Consent recorded: continue").click()
    walk.screen("finger")
    assert not page.locator("#duress-toggle").is_visible()
    assert "enrolled" in walk.text("[data-finger=right-index]")
    assert "enrolled" not in walk.text("[data-finger=right-thumb]")
    walk.fits(walk.button("right index finger"), walk.button("Next person"))
    walk.button("right thumb").click()  # Bob puts his enrolled right index finger on the glass
    walk.screen("capturing")
    _play(walk, "bob/right-index")
    page.wait_for_selector("#notice.tone-error")
    assert "already enrolled" in walk.text("#notice") and "Bob" not in walk.text("#notice")
    note = walk.text("#operator-notes")
    assert "Bob's right index finger" in note and note.count("right index finger") == 1
    walk.fits("#notice", "#operator-notes", walk.button("right thumb"), walk.button("Next person"))
    walk.shot("duplicate")
    walk.button("Sign out").click()
    walk.screen("signed_out")
    page.close()


def _place_when_asked(walk: Walk, finger: str, name: str, digit: str, shoot: bool = False) -> None:
    """Play the person: place on "place"/"confirm", lift on "lift", until the finger is done;
    the instruction, the progress bar and "Cancel this finger" stay on the screen throughout."""
    walk.screen("capturing")
    seen = _play(walk, finger, name, digit, shoot)
    walk.screen("finger")
    assert seen.count("place") == 4 and "confirm" in seen


def _play(walk: Walk, finger: str, name: str = "", digit: str = "", shoot: bool = False) -> list[str]:
    """The instructions seen until the capture screen closes, the person following each."""
    page, seen = walk.page, []
    while page.locator("body[data-screen=capturing]").count():
        key = page.locator("#instruction").get_attribute("data-key") or ""
        if seen[-1:] != [key]:
            seen.append(key)
            if key in ("place", "confirm") and digit:
                assert name in walk.text("#instruction")
                assert page.locator(f"#{digit}.chosen").count() == 1  # the picture
                walk.fits("#instruction", "#steps", walk.button("Cancel this finger"))
                if shoot and (len(seen) < 4 or key == "confirm"):
                    walk.shot(f"{key}-{len(seen)}")
            if key in ("place", "confirm"):
                walk.rig.control({"place": finger})
            elif key in ("lift", "lift_again"):
                walk.rig.control({"lift": True})
        page.wait_for_timeout(20)
    return seen


def _publish(shots: Path) -> None:
    """One small set for the docs, only when asked; PNGs of a flat page are tens of kB each."""
    if not SCREENSHOTS_DIR:
        return
    target = Path(SCREENSHOTS_DIR) / "kiosk-screenshots"
    target.mkdir(parents=True, exist_ok=True)
    for png in sorted(shots.glob("*.png")):
        if png.stat().st_size < 200_000:
            shutil.copy(png, target / png.name)
