"""The HTML report as a reader meets it: a real headless Chromium opens the built file on a desktop
and on a phone. Screenshots go to $DATADRIP_TEST_ARTEFACTS when set (CI keeps them), else to the
test's tmp_path."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import headless_chromium

from reports.report_support import NOV_1_3, add_campaign_day, fill_masala, own_home

ARTEFACTS_ENV = "DATADRIP_TEST_ARTEFACTS"
WIDTHS = {"desktop": 1024, "phone": 390}
# A campaign named as ad managers name them: one long word that a phone must still fit.
LONG_NAME = "IN_Diwali_2026_Prospecting_Broad_AdvantagePlus_Reels_Video_v3"
# Masala Mornings, 1–3 Nov 2026 (tests/reports/report_support.py) with LONG_NAME's ₹12,34,567.89 and
# 1,000 conversions on 3 Nov: ₹12,37,098.39 for 1,005.5 conversions, ₹1,230.33 each (1,230.3315…).
KEY_NUMBERS = {"spend": "₹12,37,098.39", "conversions": "1,005.5", "cpa": "₹1,230.33"}


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """Read before the per-test `home` fixture clears every DATADRIP_* variable."""
    named = os.environ.get(ARTEFACTS_ENV)
    return Path(named) if named else None


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One report file for the module: Masala Mornings, 1–3 Nov 2026, with a monthly budget."""
    folder = tmp_path_factory.mktemp("browser")
    out = folder / "masala-mornings.html"
    with own_home(folder) as dd:
        fill_masala(dd)
        add_campaign_day("Masala Mornings", "act_1", LONG_NAME, dt.date(2026, 11, 3), "1234567.89",
                         conversions=1000)
        assert dd("client", "edit", "Masala Mornings", "--monthly-budget", "150000").exit_code == 0
        run = dd("report", "build", "Masala Mornings", *NOV_1_3, "--out", str(out))
        assert run.exit_code == 0, run.stderr
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from headless_chromium()


class Visit:
    """The report loaded at one width, with every console error and failed request it caused."""

    def __init__(self, browser: Any, url: str, width: int) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 800})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda message: message.type == "error"
                     and self.problems.append(f"console: {message.text}"))
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("requestfailed", lambda request: self.problems.append(
            f"failed: {request.url[:80]} {request.failure}"))
        self.page.goto(url, wait_until="load")

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module", params=list(WIDTHS))
def visit(request: pytest.FixtureRequest, browser: Any, report_file: Path) -> Iterator[Visit]:
    opened = Visit(browser, report_file.as_uri(), WIDTHS[request.param])
    opened.name = request.param  # type: ignore[attr-defined]
    yield opened
    opened.close()


def test_browser_report_loads_without_console_errors_or_failed_requests(visit):
    assert visit.page.title() == "Masala Mornings — report, 1–3 Nov 2026"
    assert visit.problems == []


def test_browser_report_shows_the_key_numbers(visit):
    for metric, shown in KEY_NUMBERS.items():
        value = visit.page.locator(f'td.kpi[data-metric="{metric}"] .kpi-value')
        assert value.is_visible(), metric
        assert value.inner_text() == shown
    summary = visit.page.locator("td.summary")
    assert summary.is_visible()
    assert summary.inner_text().startswith("From 1–3 Nov 2026, ₹12,37,098.39 was spent on ads, for "
                                           "1,005.5 conversions at ₹1,230.33 each.")
    campaign = visit.page.locator("table.data td").filter(has_text="Prospecting").first
    assert campaign.is_visible()
    assert campaign.inner_text().replace("\n", "").startswith(LONG_NAME)  # wrapped, not cut
    assert visit.page.get_by_text("Budget pacing, November 2026").is_visible()


def test_browser_report_fits_the_screen_without_scrolling_sideways(visit):
    width = visit.page.evaluate("window.innerWidth")
    scroll_width = visit.page.evaluate("document.documentElement.scrollWidth")

    assert width == WIDTHS[visit.name]
    assert scroll_width <= width + 1, f"{scroll_width}px of content in a {width}px window"


def test_browser_report_charts_are_loaded(visit):
    charts = visit.page.locator("img")
    assert charts.count() == 2
    for n in range(2):
        chart = charts.nth(n)
        assert chart.is_visible()
        assert chart.evaluate("image => image.complete && image.naturalWidth") == 600
        box = chart.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTHS[visit.name] + 1


def test_browser_report_screenshot_is_kept(visit, artefacts, tmp_path):
    folder = artefacts or tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / f"report-{visit.name}-{WIDTHS[visit.name]}px.png"

    visit.page.screenshot(path=str(shot), full_page=True)

    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
