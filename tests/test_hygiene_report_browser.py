"""The hygiene report in a real browser: Debian's Chromium, driven by Playwright, from a file:// URL
with the network off. Every chart is drawn (each bar and point with a size on screen, as many as
the data has), the console has no error, and no request leaves the file.

Playwright never downloads a browser here (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1, no `playwright
install`): `make test` installs the OS package `chromium`. Without it the test is skipped, and under
CI=true it fails.

HYGIENE_REPORT_SCREENSHOT=<file.png> also saves a full-page screenshot of what was opened.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import CHROMIUM, require_chromium
from drops import POLICY
from hygiene_crm import build

from crm_hygiene.hygiene_report import write_hygiene_report

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.enforces("hygiene_report")]

# Per chart: how many bars and points the build's data draws (everything happened today, so one
# mark per series with a value today; the requests' levels are drawn on every day they are not zero).
MARKS_JS = """svg => Array.from(svg.querySelectorAll('.mark')).map(m => {
  const r = m.getBoundingClientRect();
  return {kind: m.classList.contains('bar') ? 'bar' : 'point', w: r.width, h: r.height,
          fill: getComputedStyle(m).fill};
})"""


def open_report(path: Path, screenshot: str | None = None):
    """Open `path` in Chromium offline; returns (what each chart drew, console errors, requests made)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    errors, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}")
                    if msg.type in ("error", "warning") else None)
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))
            page.on("request", lambda req: requests.append(req.url))
            page.goto(path.as_uri(), wait_until="load")
            charts = {}
            for figure in page.locator("figure[data-chart]").all():
                svg = figure.locator("svg.chart")
                box = svg.bounding_box()
                charts[figure.get_attribute("data-chart")] = {
                    "svg": box, "marks": svg.evaluate(MARKS_JS), "declared": int(svg.get_attribute("data-marks")),
                    "empty": svg.locator("text.empty").count()}
            if screenshot:
                page.screenshot(path=screenshot, full_page=True)
        finally:
            browser.close()
    return charts, errors, requests


def test_the_report_renders_offline_with_every_chart_drawn_and_no_error(crm, data_dir):
    today = build(crm, data_dir)
    path, report = write_hygiene_report(crm.engine, POLICY, today, data_dir)
    charts, errors, requests = open_report(path, os.environ.get("HYGIENE_REPORT_SCREENSHOT"))

    assert errors == []
    assert requests == [path.as_uri()], "the page asked for something beyond itself"
    assert set(charts) == {c.key for c in report.charts}
    for chart in report.charts:
        drawn = charts[chart.key]
        assert drawn["svg"]["width"] > 300 and drawn["svg"]["height"] > 100, chart.key
        assert drawn["empty"] == 0, f"{chart.key} says nothing was recorded"
        marks = drawn["marks"]
        assert len(marks) == chart.marks == drawn["declared"] > 0, chart.key
        assert all(m["w"] > 0 and m["h"] > 0 for m in marks), f"{chart.key}: a mark with no size"
        bars = sum(s.marks for s in chart.series if not s.line)
        assert sum(m["kind"] == "bar" for m in marks) == bars, chart.key
        assert len({m["fill"] for m in marks}) == sum(1 for s in chart.series if s.marks), chart.key
    # What the build did, drawn: one bar per series with a value today, levels on every day they hold.
    assert len(charts["came_in"]["marks"]) == crm.scalar("SELECT COUNT(DISTINCT kind) FROM ingested_files")
    assert len(charts["quarantined"]["marks"]) == 4  # four reason codes
    assert len(charts["review"]["marks"]) == 2  # sent to review, cleared as adult
    requests_chart = report.chart("requests")
    points = sum(1 for s in requests_chart.series if s.line for v in s.values if v)
    assert points >= 40  # REC-1 open for 40 days at least
    assert sum(m["kind"] == "point" for m in charts["requests"]["marks"]) == points


def test_an_empty_report_renders_without_error(crm, data_dir):
    from datetime import UTC, datetime

    path, _report = write_hygiene_report(crm.engine, POLICY, datetime.now(UTC).date(), data_dir)
    charts, errors, requests = open_report(path)
    assert errors == [] and requests == [path.as_uri()]
    assert all(c["marks"] == [] and c["empty"] == 1 for c in charts.values())
