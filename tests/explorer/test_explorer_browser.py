"""The explorer page in real headless Chromium (Debian's, driven by Playwright), as a user would use it.

On the tiny run: upload a file, draw a stroke, pick a gallery image (a wrong one), send a file that
is not an image; every feature map and concept map loads, the probabilities follow the image, the
console stays clean and no request leaves the explorer's own 127.0.0.1 address. On the real default
run (slow): the page with every concept and layer, and the README's screenshot.

Screenshots go to a temporary folder; ``UPDATE_SCREENSHOTS=1`` also writes the default run's to
``docs/explorer.png`` (so ``make test`` never changes a tracked file).
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.browser import FLAGS, ensure_chromium
from tests.explorer.conftest import open_session, start_server
from tests.explorer.tiny_run import HUES, colour_images

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "explorer.png"
#: Chromium reports a fetch answered with a 4xx as a console error; the bad-file step expects exactly that.
EXPECTED_400 = "Failed to load resource: the server responded with a status of 400"


class Browser:
    """A page on ``url`` that records console messages (with the step they came in) and every request."""

    def __init__(self, playwright, url: str):
        self.url = url
        self.browser = playwright.chromium.launch(executable_path=ensure_chromium(), headless=True, args=FLAGS)
        self.page = self.browser.new_page(viewport={"width": 1280, "height": 900})
        self.step, self.messages, self.requests = "load", [], []
        self.page.on("console", lambda m: self.messages.append((self.step, m.type, m.text)))
        self.page.on("pageerror", lambda error: self.messages.append((self.step, "pageerror", str(error))))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.goto(url, wait_until="load")
        self.page.wait_for_selector("body[data-ready='1']", timeout=60_000)

    def analysed(self, count: int) -> None:
        """Wait until the page has shown its ``count``-th analysis."""
        self.page.wait_for_selector(f"body[data-analysed='{count}']:not([data-busy])", timeout=60_000)

    def probabilities(self) -> dict[str, float]:
        return self.page.evaluate(
            "Object.fromEntries(Array.from(document.querySelectorAll('#probabilities .prob'))"
            ".map(r => [r.dataset.label, Number(r.querySelector('.p').dataset.p)]))")

    def broken_images(self, selector: str) -> tuple[int, list[str]]:
        """(how many images match ``selector``, the alt text of those that did not load).

        Waits until each has finished (``complete`` is true once an image loaded or failed): even a
        data: URL decodes after the element is inserted, so reading at once could see it unfinished.
        """
        self.page.wait_for_function(f"Array.from(document.querySelectorAll({selector!r})).every(i => i.complete)",
                                    timeout=30_000)
        found = self.page.evaluate(f"Array.from(document.querySelectorAll({selector!r}))"
                                   ".map(i => [i.alt, i.complete && i.naturalWidth > 0])")
        return len(found), [alt for alt, ok in found if not ok]

    def problems(self, allowed: dict[str, set[str]] | None = None) -> list[tuple[str, str, str]]:
        allowed = allowed or {}
        return [m for m in self.messages if m[1] in ("error", "warning", "pageerror")
                and not any(m[2].startswith(text) for text in allowed.get(m[0], ()))]

    def outside(self) -> list[str]:
        return [u for u in self.requests if not (u.startswith(self.url) or u.startswith("data:"))]

    def screenshot(self, path: Path) -> Path:
        self.page.screenshot(path=str(path), full_page=True)
        return path


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def driver():
    """One Playwright for the module: a second ``sync_playwright()`` while the first is open fails
    ("Sync API inside the asyncio loop"), as when the slow test ran after ``tiny_page``'s."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def tiny_page(explorer_server, tmp_path_factory, driver):
    files = tmp_path_factory.mktemp("uploads")
    red = colour_images(np.random.default_rng(7), HUES["fire"], 1)[0]
    Image.fromarray(np.kron(red, np.ones((4, 4, 1), np.uint8))).save(files / "red.png")
    (files / "notes.txt").write_text("this is not an image")
    browser = Browser(driver, explorer_server.url)
    yield browser, files, tmp_path_factory.mktemp("screenshots")
    browser.browser.close()


def test_upload_draw_and_gallery_in_chromium(tiny_page):
    browser, files, shots = tiny_page
    page = browser.page

    browser.step = "upload"
    page.set_input_files("#file", str(files / "red.png"))
    browser.analysed(1)
    uploaded = browser.probabilities()
    assert set(uploaded) == {"fire", "water", "grass"} and max(uploaded, key=uploaded.get) == "fire"
    assert "red.png" in page.inner_text("#source")
    count, broken = browser.broken_images("#layers img")
    assert count == 3 and broken == []
    assert page.eval_on_selector_all("#layers h3", "hs => hs.map(h => h.textContent)") == [
        "conv1 16×16×4 · 4 channels", "pool1 8×8×4 · 4 channels", "conv2 8×8×8 · 8 channels"]
    count, broken = browser.broken_images("#concepts td.cell img")
    assert count == 4 and broken == []  # 2 concepts x 2 layers
    assert page.locator("#concepts td.cell svg rect").count() > 4  # the presence histograms

    browser.step = "draw"
    page.click("button.swatch[data-colour='#2050e0']")  # blue
    page.fill("#brush", "60")
    box = page.locator("#canvas").bounding_box()
    page.mouse.move(box["x"] + 40, box["y"] + 60)
    page.mouse.down()
    for step in range(1, 15):  # one stroke, zigzagging over the middle
        page.mouse.move(box["x"] + 40 + 12 * step, box["y"] + (60 if step % 2 else 190), steps=3)
    page.mouse.up()
    browser.analysed(2)
    drawn = browser.probabilities()
    assert drawn != uploaded and max(drawn, key=drawn.get) == "water"
    assert "drawing.png" in page.inner_text("#source")

    browser.step = "gallery"
    assert page.locator(".thumb").count() == 13 and page.locator(".thumb.wrong").count() == 1
    page.click(".thumb.wrong")
    browser.analysed(3)
    assert "red_grass.png (true class grass)" in page.inner_text("#source")
    assert browser.probabilities() not in (uploaded, drawn)
    count, broken = browser.broken_images("#concepts td.cell img")
    assert count == 4 and broken == []

    browser.step = "bad file"
    page.set_input_files("#file", str(files / "notes.txt"))
    page.wait_for_selector("body[data-errors='1']", timeout=30_000)
    assert page.is_visible("#message") and "not an image" in page.inner_text("#message")

    browser.step = "after"
    page.click(".thumb >> nth=0")
    browser.analysed(4)
    assert not page.is_visible("#message")  # the message goes once an image works again

    assert browser.problems({"bad file": {EXPECTED_400}}) == []
    assert browser.outside() == []  # nothing but the explorer itself: no CDN, font or favicon fetch
    width, height = png_size(browser.screenshot(shots / "explorer_tiny.png"))
    assert width == 1280 and height > 1000


@pytest.mark.slow
def test_the_default_run_in_chromium_and_the_readme_screenshot(default_run, tmp_path, driver):
    session = open_session(default_run)
    server = start_server(session)
    try:
        browser = Browser(driver, server.url)
        browser.page.click(".thumb >> nth=0")
        browser.analysed(1)
        status = session.status()
        count, broken = browser.broken_images("#concepts td.cell img")
        spatial = [b for b in status["bottlenecks"] if b in status["layers"]]
        assert count == len(status["concepts"]) * len(spatial) and broken == []
        count, broken = browser.broken_images("#layers img")
        assert count == len(status["layers"]) == 5 and broken == []  # conv1, pool1, conv2, pool2, conv3
        assert browser.page.locator("#concepts .finding").count() > 0  # the report's findings are marked
        assert browser.problems() == [] and browser.outside() == []
        shot = browser.screenshot(tmp_path / "explorer.png")
        browser.browser.close()
    finally:
        server.shutdown()
        server.server_close()
    assert png_size(shot)[0] == 1280
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS_SCREENSHOT)
