"""The real pipeline's report.html, opened from a file:// URL in headless Chromium.

Checks what a reader would notice: every chart loads, nothing is fetched from anywhere but
the file itself, the console stays clean, the scores table sorts and filters.
"""

from __future__ import annotations

import struct

import pytest

from tests.browser import FLAGS, ensure_chromium

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page_session(default_run, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    report = default_run / "results" / "report.html"
    messages, requests = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(report.as_uri(), wait_until="load")
        screenshot = tmp_path_factory.mktemp("screenshot") / "report.png"
        page.screenshot(path=str(screenshot), full_page=True)
        yield {"page": page, "messages": messages, "requests": requests, "report": report,
               "screenshot": screenshot, "project": default_run}
        browser.close()


def test_every_chart_loads(page_session):
    page = page_session["page"]
    images = page.evaluate("Array.from(document.images).map(i => ({src: i.alt, ok: i.complete && i.naturalWidth > 0}))")
    plots = page_session["project"] / "results" / "plots"
    charts = sorted(p.name for pattern in ("*.png", "*.gif") for p in plots.glob(pattern))  # the training animation
    assert sorted(image["src"] for image in images) == charts
    assert [image["src"] for image in images if not image["ok"]] == []


def test_no_console_errors_and_no_request_beyond_the_file(page_session):
    problems = [m for m in page_session["messages"] if m.split(":")[0] in ("error", "warning", "pageerror")]
    assert problems == []
    others = [url for url in page_session["requests"] if url != page_session["report"].as_uri()]
    assert others == []  # charts are embedded; no CDN, font or favicon fetch


def test_screenshot_is_a_full_page_png(page_session):
    data = page_session["screenshot"].read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1280 and height > 3000  # the whole page, charts included


def test_scores_table_sorts_and_filters(page_session):
    page = page_session["page"]
    headers = page.locator("#scores thead th")
    column = [headers.nth(i).inner_text() for i in range(headers.count())].index("score")
    headers.nth(column).click()
    values = page.evaluate(
        f"Array.from(document.querySelectorAll('#scores tbody tr')).map(r => r.cells[{column}].getAttribute('data-v'))"
    )
    numbers = [float(v) for v in values if v]
    assert len(numbers) > 10 and numbers == sorted(numbers)
    assert all(not v for v in values[len(numbers):])  # empty cells (no score) last
    page.select_option("#class-filter", "water")
    shown = page.evaluate(
        "Array.from(document.querySelectorAll('#scores tbody tr')).filter(r => r.style.display !== 'none')"
        ".map(r => r.getAttribute('data-class'))"
    )
    assert shown and set(shown) == {"water"}


def test_no_p_value_reads_0_and_the_heatmap_legend_names_its_colours(page_session):
    page = page_session["page"]
    headers = page.locator("#scores thead th")
    labels = [headers.nth(i).inner_text() for i in range(headers.count())]
    p_columns = [i for i, label in enumerate(labels) if label.startswith("p (") or label == "adjusted"]
    assert len(p_columns) >= 4
    cells = page.evaluate(
        f"Array.from(document.querySelectorAll('#scores tbody tr')).flatMap(r => {p_columns}.map(i => r.cells[i].innerText))"
    )
    assert cells and not [c for c in cells if c.strip() in ("0", "0.000", "0.0")]
    verdicts = page.evaluate("Array.from(document.querySelectorAll('#scores tbody tr.raises td.v'))"
                             ".map(c => getComputedStyle(c).color)")
    assert verdicts and set(verdicts) == {"rgb(84, 39, 136)"}  # purple, not red


def test_the_page_opens_compact_on_the_findings_and_a_link_unfolds_a_section(page_session):
    """Secondary sections are folded (the page is a few screens, not 25,000 px); a nav link opens one."""
    page = page_session["page"]
    assert page.evaluate("document.body.scrollHeight") < 9000
    folded = page.evaluate("Array.from(document.querySelectorAll('details.fold')).map(d => [d.id, d.open])")
    assert {"how", "network", "params"} <= {name for name, _ in folded}
    assert not [name for name, is_open in folded if is_open]
    start = page.locator("#findings p.start").inner_text()
    assert start.startswith("Start here: layer ") and "confirmed finding(s)" in start
    page.click("nav a[href='#network']")
    assert page.evaluate("document.getElementById('network').open") is True
    assert page.locator("#network img").first.is_visible()
    # folded again by hand, the same link (the URL already ends in #network) opens it again
    page.click("#network > summary")
    assert page.evaluate("document.getElementById('network').open") is False
    page.click("nav a[href='#network']")
    assert page.evaluate("document.getElementById('network').open") is True
