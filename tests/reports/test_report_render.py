"""The report rendered: names from ad platforms shown as text in HTML, Markdown and plain text; CSS
inlined for e-mail; charts as PNGs, embedded in a file and referenced by Content-ID in an e-mail;
the user's own templates and their mistakes; money and subjects in the agency's words."""

from __future__ import annotations

import base64
import datetime as dt
import re
import struct
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from support import assert_bad_input

from reports.report_support import (
    DAY1,
    NOV_1_3,
    Shared,
    add_campaign_day,
    fill_masala,
    own_home,
    rename_client,
)

MASALA = "Masala Mornings"
HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "**bold** [link](http://x)",
           "Chai & Co | Search ~ IN"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """An HTML page as a browser's parser sees it: its elements, its text and its <style>s."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.styles: list[str] = []
        self._open: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag):]

    def handle_data(self, data: str) -> None:
        (self.styles if self._open[-1:] == ["style"] else self.texts).append(data)

    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())

    def having(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [found for name, found in self.elements
                if name == tag and all(found.get(key) == value for key, value in attrs.items())]

    def images(self) -> list[str]:
        return [str(found["src"]) for found in self.having("img")]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    """Masala Mornings, and a client for each hostile name whose one campaign has the same name."""
    folder = tmp_path_factory.mktemp("render")
    with own_home(folder) as dd:
        fill_masala(dd)
        for n, name in enumerate(HOSTILE):
            assert dd("client", "add", name).exit_code == 0
            add_campaign_day(name, f"act_h{n}", name, dt.date(2026, 11, 1), "100", conversions=2)
        yield Shared(folder, dd)


@pytest.fixture
def masala(shared: Shared, home: Path, dd: Callable[..., Any]) -> Callable[..., Any]:
    shared.copy_to(home)
    return dd


def assert_no_markup_from(page: Page, name: str) -> None:
    assert page.having("script") == []
    assert page.having("img", src="x") == [] and page.having("a") == []
    assert not any("onerror" in attrs for _, attrs in page.elements)
    assert "Most conversions: " + name + " (Meta), 2 at ₹50.00 each." in page.text()


@pytest.mark.parametrize("name", HOSTILE)
def test_render_html_shows_names_as_text(shared, name):
    page = Page(shared.text(name, *DAY1))

    assert_no_markup_from(page, name)
    assert page.text().count(name) >= 4  # title, heading, summary, campaigns (and account name)
    assert page.having("img")  # only the chart, a data URI
    assert all(src.startswith("data:image/png;base64,") for src in page.images())


@pytest.mark.parametrize("name", HOSTILE)
def test_render_markdown_escapes_names(shared, name):
    markdown = shared.text(name, *DAY1, "--format", "md")

    page = Page(MarkdownIt("commonmark").enable("table").render(markdown))

    assert_no_markup_from(page, name)
    assert page.text().startswith(f"{name}: Report, 1 Nov 2026")  # the heading, as written
    assert f"{name} Meta ₹100.00 2 ₹50.00" in page.text()  # its row in the campaign table


@pytest.mark.parametrize("name", HOSTILE)
def test_render_text_shows_names_as_written(shared, name):
    text = shared.text(name, *DAY1, "--format", "txt")

    assert text.splitlines()[1] == f"{name}: Report, 1 Nov 2026"
    assert f"Most conversions: {name} (Meta), 2 at ₹50.00 each." in text
    assert f"  1. {name} (Meta): ₹100.00, 2 conversions, ₹50.00 each, ROAS 0.00×" in text.splitlines()
    rest = text.replace(name, "")
    assert "\\" not in rest and "**" not in rest and "&lt;" not in rest  # no Markdown or HTML escapes


def test_render_html_inlines_css_and_keeps_the_media_query_in_a_style(shared):
    page = Page(shared.text(MASALA, *NOV_1_3))

    [title] = page.having("div", **{"class": "title"})
    assert "font-size: 22px" in str(title["style"])
    kpi_cells = [attrs for tag, attrs in page.elements if tag == "td" and attrs.get("class") == "kpi"]
    assert len(kpi_cells) == 8 and all("width: 25%" in str(cell["style"]) for cell in kpi_cells)
    assert all(cell["style"] for cell in page.having("th"))
    [style] = page.styles
    assert "@media only screen and (max-width: 620px)" in style
    assert ".kpi { display: inline-block !important; width: 50% !important;" in style


def kpi_cell(html: str, metric: str) -> str:
    found = re.search(rf'<td[^>]*data-metric="{metric}".*?</td>', html, re.DOTALL)
    assert found is not None, metric
    return Page(found.group(0)).text()


def test_render_html_kpi_change_says_what_changed(shared):
    nothing_before = shared.text(MASALA, *NOV_1_3)  # 29–31 Oct: no numbers at all
    day2 = shared.text(MASALA, "--since", "2026-11-02", "--until", "2026-11-02")
    no_revenue = shared.text(HOSTILE[3], *DAY1)  # ₹0.00 of revenue on 1 Nov and on 31 Oct

    assert kpi_cell(nothing_before, "spend") == "Spend ₹2,530.50 no comparison"  # not "no change"
    assert kpi_cell(nothing_before, "conversions") == "Conversions 5.5 no comparison"
    assert kpi_cell(day2, "spend") == "Spend ₹500.50 ▼ −75.3%"
    assert kpi_cell(day2, "cpa") == "Cost per conversion n/a no comparison"
    assert kpi_cell(no_revenue, "conversion_value") == "Revenue ₹0.00 = no change"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_render_file_html_embeds_charts_as_png_600_pixels_wide(shared):
    page = Page(shared.text(MASALA, *NOV_1_3))

    images = page.having("img")
    assert [image["alt"] for image in images] == ["Spend and conversions per day",
                                                  "Share of spend by channel"]
    sizes = []
    for image in images:
        kind, _, data = str(image["src"]).partition(",")
        assert kind == "data:image/png;base64"
        sizes.append(png_size(base64.b64decode(data)))
    assert sizes == [(600, 340), (600, 155)]  # 6 in × 100 dpi; the channel bars 0.55 + 0.5 in each


def test_render_email_html_references_charts_by_content_id(masala):
    from datadrip.analytics.totals import agency_today
    from datadrip.db.models import Agency
    from datadrip.platforms.registry import load_settings
    from datadrip.reports.build import plan_report
    from datadrip.reports.compose import compose_report
    from datadrip.workbook.clients import find_client
    from datadrip.workbook.session import open_session

    with open_session(load_settings()) as wb:
        client = find_client(wb.session, MASALA)
        agency = wb.session.get_one(Agency, client.agency_id)
        plan = plan_report(None, None, "2026-11-01", "2026-11-03", agency_today(agency))
        composed = compose_report(wb.session, agency, client, plan)
        email, file = composed.rendered("html", embed=False), composed.rendered("html")

    assert Page(email).images() == ["cid:trend@datadrip", "cid:channels@datadrip"]
    assert [image.content_id for image in composed.images] == ["trend@datadrip", "channels@datadrip"]
    assert all(png_size(image.data)[0] == 600 for image in composed.images)
    assert [src[:22] for src in Page(file).images()] == ["data:image/png;base64,"] * 2
    assert "base64" not in email


def test_render_draws_no_chart_for_an_empty_period_and_no_channel_chart_for_one_channel(shared):
    empty = Page(shared.text(MASALA, "--since", "2026-10-01", "--until", "2026-10-01"))
    one_channel = Page(shared.text(MASALA, "--since", "2026-11-02", "--until", "2026-11-02"))

    assert empty.images() == []
    assert "No spend or conversions in these days." in empty.text()
    assert "No ad activity was recorded in this period." in empty.text()
    assert [image["alt"] for image in one_channel.having("img")] == ["Spend and conversions per day"]


@pytest.fixture
def own_templates(home: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "my templates"
    folder.mkdir()
    (folder / "report.txt.j2").write_text(
        "OURS {{ client.name }}: {{ kpis[0] | metric }} on {{ period.since | day }}\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("how", ["config file", "environment"])
def test_render_user_template_folder_replaces_only_the_templates_it_holds(masala, own_templates, home,
                                                                          monkeypatch, how):
    if how == "config file":
        home.joinpath("datadrip.toml").write_text(
            f'[reports]\ntemplate_dir = "{own_templates}"\n', encoding="utf-8")
    else:
        monkeypatch.setenv("DATADRIP_REPORTS_TEMPLATE_DIR", str(own_templates))

    text = masala("report", "build", MASALA, *DAY1, "--format", "txt")
    html = masala("report", "build", MASALA, *DAY1)

    assert (text.exit_code, text.stdout) == (0, "OURS Masala Mornings: ₹2,030.00 on 1 Nov 2026\n")
    assert html.exit_code == 0 and "Key numbers" in Page(html.stdout).text()  # ours, built in


def test_render_template_with_a_syntax_error_names_its_file_and_line(masala, own_templates, monkeypatch):
    (own_templates / "report.txt.j2").write_text("{{ client.name }}\n{% if has_data %}\nno end\n",
                                                 encoding="utf-8")
    monkeypatch.setenv("DATADRIP_REPORTS_TEMPLATE_DIR", str(own_templates))

    run = masala("report", "build", MASALA, *DAY1, "--format", "txt")

    error = assert_bad_input(run)
    assert re.fullmatch(r"error: template .*report\.txt\.j2:3: .+", error), error
    assert "endif" in error


def test_render_template_using_an_unknown_field_fails_clearly(masala, own_templates, monkeypatch):
    (own_templates / "report.txt.j2").write_text("{{ client.nickname }}\n", encoding="utf-8")
    monkeypatch.setenv("DATADRIP_REPORTS_TEMPLATE_DIR", str(own_templates))

    run = masala("report", "build", MASALA, *DAY1, "--format", "txt")

    assert_bad_input(run, "template report.txt.j2 failed", "nickname")
    assert "--format json" in run.stderr  # where the fields are listed


def test_render_broken_html_template_keeps_no_report(masala, own_templates, monkeypatch):
    (own_templates / "report.html.j2").write_text("<p>{{ nothing.here }}</p>\n", encoding="utf-8")
    monkeypatch.setenv("DATADRIP_REPORTS_TEMPLATE_DIR", str(own_templates))

    assert_bad_input(masala("report", "build", MASALA, *DAY1), "nothing")
    assert masala("report", "list", "--json").json() == []


def test_render_template_folder_that_does_not_exist_is_bad_config(masala, tmp_path, monkeypatch):
    monkeypatch.setenv("DATADRIP_REPORTS_TEMPLATE_DIR", str(tmp_path / "nowhere"))

    assert_bad_input(masala("report", "build", MASALA, *DAY1, "--format", "txt"), "template_dir",
                     "nowhere", "is not a folder")


def test_render_money_follows_the_agency_locale(masala):
    add_campaign_day(MASALA, "act_1", "Mega", dt.date(2026, 11, 5), "12345678.90")
    day = ("--since", "2026-11-05", "--until", "2026-11-05")

    indian = Page(masala("report", "build", MASALA, *day).stdout)
    assert masala("agency", "edit", "Spice Route Media", "--locale", "en_US").exit_code == 0
    american = masala("report", "build", MASALA, *day, "--format", "txt").stdout

    assert "Spend ₹1,23,45,678.90" in indian.text()  # lakh and crore grouping
    assert "Mega Meta ₹1,23,45,678.90" in indian.text()
    assert "On 5 Nov 2026, ₹12,345,678.90 was spent on ads" in american
    assert "  1. Mega (Meta): ₹12,345,678.90, 0 conversions" in american


@pytest.mark.parametrize(("args", "subject"), [
    (("--kind", "daily", *DAY1), "Masala Mornings — daily report, 1 Nov 2026"),
    (("--kind", "weekly", "--since", "2026-10-26", "--until", "2026-11-01"),
     "Masala Mornings — weekly report, 26 Oct – 1 Nov 2026"),
    (("--kind", "monthly", "--since", "2026-10-01", "--until", "2026-10-31"),
     "Masala Mornings — monthly report, October 2026"),
    (NOV_1_3, "Masala Mornings — report, 1–3 Nov 2026"),
])
def test_render_subject_names_the_client_kind_and_period(shared, args, subject):
    [title] = re.findall(r"<title>(.*)</title>", shared.text(MASALA, *args))

    assert title == subject


def test_render_subject_of_a_client_named_over_lines_is_one_line(masala):
    client_id = rename_client(MASALA, "Masala\nMornings \t Ltd")

    html = masala("report", "build", client_id, "--kind", "daily", *DAY1).stdout

    [title] = re.findall(r"<title>(.*?)</title>", html, re.DOTALL)
    assert title == "Masala Mornings Ltd — daily report, 1 Nov 2026"
