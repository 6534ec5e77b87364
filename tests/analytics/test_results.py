"""Results as the client reports them: key results (each with its own cost) counted by the
plug-ins' overlap rules in SQL, every action (`metrics --by action`), link-click parity, and the
days synced before actions were kept. The numbers go in through the sync's own writer.

Agency "Spice Route Media" (INR), client "Masala Mornings" (INR):
  Meta act_1: campaign "Diwali" (purchases, leads, a custom conversion "Booked table", link
              clicks), campaign "Leads" (Meta's Results column on leads); 2026-11-01 was synced
              before actions were kept.
  Google 1234567890 (INR): campaign "Search" with conversion actions 111 "Website purchase"
              (in Conversions), 112 "Store purchase (import)" (not), 221 "Contact form" (lead).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from reports.report_support import own_home
from sqlmodel import select
from support import assert_bad_input

from datadrip.analytics.results import key_results
from datadrip.analytics.totals import client_scope
from datadrip.core.periods import Period
from datadrip.db.models import AdAccount, Agency, Client, Entity
from datadrip.platforms.base import (
    ActionCount,
    ConversionActionInfo,
    DateWindow,
    EntityRecord,
    MetricRow,
)
from datadrip.platforms.registry import load_settings
from datadrip.sync.store import AccountWriter
from datadrip.workbook.session import open_session

D0, D1, D2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)
M = 1_000_000
MASALA = "Masala Mornings"
PERIOD = ("--since", "2026-11-01", "--until", "2026-11-03")
CUSTOM = "offsite_conversion.custom.77"


def _a(action: str, count: str, value: int | None = None) -> ActionCount:
    return ActionCount(action, Decimal(count), value)


def _row(entity: str, day: dt.date, spend: int, impressions: int, clicks: int, conversions: str,
         **extra: Any) -> MetricRow:
    return MetricRow("campaign", entity, day, spend * M, impressions, clicks, Decimal(conversions),
                     0, **extra)


META_ROWS = [
    # synced before actions were kept: no actions, actions_kept false
    _row("c1", D0, 100, 1000, 30, "1"),
    _row("c1", D1, 1000, 10000, 300, "5", link_clicks=200,
         result_indicator="actions:offsite_conversion.fb_pixel_purchase", results=Decimal(5),
         actions=(_a("omni_purchase", "5", 5000 * M), _a("purchase", "5", 5000 * M),
                  _a("offsite_conversion.fb_pixel_purchase", "5", 5000 * M),
                  _a("lead", "3"), _a("offsite_conversion.fb_pixel_lead", "2"),
                  _a("onsite_conversion.lead_grouped", "1"),
                  _a("page_engagement", "450"), _a("post_engagement", "400"),
                  _a("link_click", "200"), _a(CUSTOM, "2"))),
    _row("c1", D2, 500, 5000, 100, "2", link_clicks=100,
         result_indicator="actions:offsite_conversion.fb_pixel_purchase", results=Decimal(2),
         actions=(_a("offsite_conversion.fb_pixel_purchase", "2", 1500 * M),
                  _a("link_click", "100"))),
    _row("c2", D1, 300, 2000, 40, "4", link_clicks=30, result_indicator="actions:lead",
         results=Decimal(4), actions=(_a("lead", "4"), _a("link_click", "30"))),
]
GOOGLE_ROWS = [
    _row("g1", D1, 2000, 4000, 100, "3.5", interactions=120, all_conversions=Decimal("7.5"),
         actions=(_a("111", "2.5", 9000 * M), _a("112", "4", 8000 * M), _a("221", "1"))),
]
GOOGLE_CATALOGUE = [
    ConversionActionInfo("111", "Website purchase", "conversion_action", "PURCHASE", True, True),
    ConversionActionInfo("112", "Store purchase (import)", "conversion_action", "PURCHASE", False,
                         False),
    ConversionActionInfo("221", "Contact form", "conversion_action", "SUBMIT_LEAD_FORM", True, True),
]


def _fill(dd: Callable[..., Any]) -> None:
    assert dd("agency", "add", "Spice Route Media").exit_code == 0
    assert dd("client", "add", MASALA).exit_code == 0
    with open_session(load_settings(), write=True) as wb:
        client = wb.session.exec(select(Client)).one()
        accounts = [AdAccount(client_id=client.id, platform=platform, external_id=external,
                              name=f"{MASALA} {platform}", currency="INR",
                              timezone="Asia/Kolkata")
                    for platform, external in (("meta", "act_1"), ("google", "1234567890"))]
        wb.session.add_all(accounts)
        wb.session.flush()
        ids = [account.id for account in accounts]
    with open_session(load_settings(), write=True) as wb:
        engine = wb.session.get_bind()
    window = DateWindow(D0, D2)
    meta = AccountWriter(engine, ids[0])  # type: ignore[arg-type]
    meta.write_chunk("campaign", window, [EntityRecord("campaign", "c1", "Diwali"),
                                          EntityRecord("campaign", "c2", "Leads")], META_ROWS)
    meta.write_catalogue([ConversionActionInfo(CUSTOM, "Booked table", "custom")])
    google = AccountWriter(engine, ids[1])  # type: ignore[arg-type]
    google.write_chunk("campaign", window, [EntityRecord("campaign", "g1", "Search")], GOOGLE_ROWS)
    google.write_catalogue(GOOGLE_CATALOGUE)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workbook filled once for the module, through the sync's writer."""
    folder = tmp_path_factory.mktemp("results")
    with own_home(folder) as dd:
        _fill(dd)
    return folder / "home"


@pytest.fixture
def results_workbook(filled: Path, home: Path) -> None:
    """A copy of the filled workbook as this test's DATADRIP_HOME."""
    shutil.copytree(filled, home)


def _summary() -> Any:
    with open_session(load_settings()) as wb:
        client = wb.session.exec(select(Client)).one()
        agency = wb.session.get_one(Agency, client.agency_id)
        return key_results(wb.session, client_scope(agency, client), Period(D0, D2, "custom"))


def _figures(summary: Any) -> dict[str, dict[str, Any]]:
    return {figure.key: figure.values("INR") for figure in summary.figures}


def test_key_results_overlapping_purchases_counted_once_distinct_actions_added(
        results_workbook: None, dd: Callable[..., Any]) -> None:
    assert dd("client", "edit", MASALA, "--results", "purchase,lead,Booked table").exit_code == 0
    figures = _figures(_summary())
    spend = Decimal(100 + 1000 + 500 + 300 + 2000)
    # Meta: max(5, 5, 5) on day 1 + 2 on day 2; Google: 111 only (112 is not in Conversions)
    assert figures["purchase"]["count"] == Decimal("9.5")
    assert figures["purchase"]["value"] == Decimal(5000 + 1500 + 9000)
    assert figures["purchase"]["label"] == "Purchases"
    assert figures["purchase"]["cost_label"] == "Cost per purchase"
    assert figures["purchase"]["cost"] == (spend / Decimal("9.5")).quantize(Decimal("0.01"))
    # lead ⊇ pixel + on-Meta leads: 3 (not 6) for Diwali, 4 for Leads; Google's contact form 1
    assert figures["lead"]["count"] == Decimal(8)
    assert (figures["lead"]["label"], figures["lead"]["cost_label"]) == ("Leads", "Cost per lead")
    assert figures["lead"]["cost"] == Decimal("487.50")
    assert figures["Booked table"]["count"] == Decimal(2)
    assert figures["Booked table"]["label"] == "Booked table"
    assert figures["Booked table"]["cost"] == Decimal("1950.00")


def test_key_results_default_follows_platform_results_indicators_never_added(
        results_workbook: None) -> None:
    figures = _figures(_summary())
    purchases = figures["results:actions:offsite_conversion.fb_pixel_purchase"]
    assert purchases["count"] == Decimal(7) and purchases["label"] == "Results (Purchases)"
    assert purchases["cost"] == Decimal("214.29")  # 1500 / 7 over the rows with that indicator
    leads = figures["results:actions:lead"]
    assert leads["count"] == Decimal(4) and leads["cost"] == Decimal("75.00")
    conversions = figures["conversions"]
    assert conversions["count"] == Decimal("3.5") and conversions["label"] == "Conversions"
    assert conversions["cost"] == Decimal("571.43")


def test_key_results_link_click_parity_and_interactions(results_workbook: None) -> None:
    parity = _summary().parity.values("INR")
    assert parity["link_clicks"] == 330
    assert parity["link_ctr"] == Decimal("1.94")  # 330 / 17000 impressions of the Meta rows with link clicks
    assert parity["link_cpc"] == Decimal("5.45")  # 1800 / 330
    assert parity["interactions"] == 120


def test_key_results_days_without_actions_named_with_the_sync_that_refills_them(
        results_workbook: None, dd: Callable[..., Any]) -> None:
    assert _summary().unavailable == []  # the default results need no actions
    assert dd("client", "edit", MASALA, "--results", "purchase,lead,Booked table").exit_code == 0
    summary = _summary()
    assert [(gap.platform, gap.first_day, gap.last_day) for gap in summary.unavailable] == [
        ("meta", D0, D0)]
    assert summary.notes() == [
        f"Purchases, Leads and Booked table for {MASALA} meta (meta) are unavailable before "
        "2026-11-02; datadrip sync --since 2026-11-01 refills them."]


def test_metrics_by_action_lists_every_action_once_with_label_and_cost(
        results_workbook: None, dd: Callable[..., Any]) -> None:
    run = dd("metrics", "--client", MASALA, "--by", "action", *PERIOD, "--json")
    assert run.exit_code == 0, run.stderr
    lines = run.json()
    assert {(line["platform"], line["action"]) for line in lines} == {
        ("meta", action) for action in (
            "omni_purchase", "purchase", "offsite_conversion.fb_pixel_purchase", "lead",
            "offsite_conversion.fb_pixel_lead", "onsite_conversion.lead_grouped",
            "page_engagement", "post_engagement", "link_click", CUSTOM)} | {
        ("google", "111"), ("google", "112"), ("google", "221")}
    by_action = {line["action"]: line for line in lines}
    assert set(lines[0]) == {"client", "platform", "account", "action", "action_name", "count",
                             "value", "cost_per_action", "currency"}
    pixel = by_action["offsite_conversion.fb_pixel_purchase"]
    assert (pixel["action_name"], pixel["count"], pixel["value"]) == ("Purchases", 7, 6500)
    assert pixel["cost_per_action"] == 271.43  # Meta's spend 1900 / 7
    assert by_action["link_click"]["count"] == 330
    assert by_action["post_engagement"]["count"] == 400  # never 400 + its link clicks
    assert by_action[CUSTOM]["action_name"] == "Booked table"
    assert by_action["lead"]["value"] is None
    assert (by_action["112"]["action_name"], by_action["112"]["count"]) == (
        "Store purchase (import)", 4)
    assert by_action["111"]["cost_per_action"] == 800.0  # 2000 / 2.5


def test_metrics_by_action_refuses_metrics_option(results_workbook: None,
                                                  dd: Callable[..., Any]) -> None:
    assert_bad_input(dd("metrics", "--by", "action", "--metrics", "spend", *PERIOD), "--metrics")


def test_client_results_validated_against_the_accounts_catalogues(
        results_workbook: None, dd: Callable[..., Any]) -> None:
    run = dd("client", "edit", MASALA, "--results", "purchase, Website purchase,"
             "offsite_conversion.fb_pixel_lead,221", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["key_results"] == ["purchase", "Website purchase",
                                         "offsite_conversion.fb_pixel_lead", "221"]
    shown = dd("client", "show", MASALA, "--json").json()
    assert shown["key_results"] == run.json()["key_results"]
    listed = dd("client", "list", "--json").json()
    assert listed[0]["key_results"] == shown["key_results"]
    bad = dd("client", "edit", MASALA, "--results", "purchase,sales")
    assert_bad_input(bad, "'sales'")
    assert "Booked table" in bad.stderr and "Website purchase" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert dd("client", "show", MASALA, "--json").json()["key_results"] == shown["key_results"]
    back = dd("client", "edit", MASALA, "--results", "", "--json")
    assert back.exit_code == 0 and back.json()["key_results"] == []


def test_client_add_results_takes_friendly_names_only_without_accounts(
        dd: Callable[..., Any]) -> None:
    assert dd("agency", "add", "Spice Route Media").exit_code == 0
    run = dd("client", "add", "Clinic", "--results", "lead,complete_registration", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["key_results"] == ["lead", "complete_registration"]
    assert_bad_input(dd("client", "add", "Shop", "--results", "Website purchase"),
                     "'Website purchase'")
    assert [client["name"] for client in dd("client", "list", "--json").json()] == ["Clinic"]


def test_metrics_link_clicks_ctr_cpc_and_interactions_where_asked(
        results_workbook: None, dd: Callable[..., Any]) -> None:
    run = dd("metrics", "--client", MASALA, "--by", "campaign", *PERIOD, "--json", "--metrics",
             "clicks,link_clicks,link_ctr,link_cpc,interactions")
    assert run.exit_code == 0, run.stderr
    lines = {line["campaign"]: line for line in run.json()}
    # Diwali: day 0 has no link clicks, so its impressions and spend stay out of link CTR / CPC
    assert lines["Diwali"] == {**lines["Diwali"], "clicks": 430, "link_clicks": 300,
                               "link_ctr": 2.0, "link_cpc": 5.0, "interactions": None}
    assert lines["Search"] == {**lines["Search"], "clicks": 100, "link_clicks": None,
                               "link_ctr": None, "link_cpc": None, "interactions": 120}
    default = dd("metrics", "--client", MASALA, "--by", "total", *PERIOD, "--json").json()
    assert "link_clicks" not in default[0]


def test_sql_action_daily_names_actions_from_the_catalogue(results_workbook: None,
                                                           dd: Callable[..., Any]) -> None:
    run = dd("sql", "SELECT platform, campaign_name, date, action, action_name, action_kind, "
             "count_millionths, value_micros FROM action_daily WHERE action IN "
             f"('{CUSTOM}', 'omni_purchase', '112') ORDER BY platform, action", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json() == [
        {"platform": "google", "campaign_name": "Search", "date": "2026-11-02", "action": "112",
         "action_name": "Store purchase (import)", "action_kind": "conversion_action",
         "count_millionths": 4 * M, "value_micros": 8000 * M},
        {"platform": "meta", "campaign_name": "Diwali", "date": "2026-11-02", "action": CUSTOM,
         "action_name": "Booked table", "action_kind": "custom", "count_millionths": 2 * M,
         "value_micros": None},
        {"platform": "meta", "campaign_name": "Diwali", "date": "2026-11-02",
         "action": "omni_purchase", "action_name": "omni_purchase", "action_kind": None,
         "count_millionths": 5 * M, "value_micros": 5000 * M}]
    catalogue = dd("sql", "SELECT platform, action, action_name, category, \"primary\", "
                   "included_in_conversions FROM conversion_actions ORDER BY platform, action",
                   "--json").json()
    assert [(row["platform"], row["action"], row["action_name"]) for row in catalogue] == [
        ("google", "111", "Website purchase"), ("google", "112", "Store purchase (import)"),
        ("google", "221", "Contact form"), ("meta", CUSTOM, "Booked table")]


def test_dashboard_names_each_key_result_with_its_own_cost(results_workbook: None,
                                                           dd: Callable[..., Any]) -> None:
    assert dd("client", "edit", MASALA, "--results", "purchase,lead").exit_code == 0
    board = dd("dashboard", "--client", MASALA, *PERIOD, "--json")
    assert board.exit_code == 0, board.stderr
    record = board.json()
    assert [(r["label"], r["count"], r["cost_label"], r["cost"]) for r in record["results"]] == [
        ("Purchases", 9.5, "Cost per purchase", 410.53), ("Leads", 8, "Cost per lead", 487.5)]
    assert (record["link_clicks"], record["interactions"]) == (330, 120)
    assert record["results_notes"] == [
        f"Purchases and Leads for {MASALA} meta (meta) are unavailable before 2026-11-02; "
        "datadrip sync --since 2026-11-01 refills them."]
    plain = dd("dashboard", "--client", MASALA, *PERIOD)
    assert plain.exit_code == 0, plain.stderr
    assert "Purchases 9.5 · Cost per purchase ₹410.53" in plain.stdout
    assert "Leads 8 · Cost per lead ₹487.50" in plain.stdout
    assert "datadrip sync --since 2026-11-01" in plain.stdout


def test_report_names_each_result_with_its_cost_and_the_days_without_actions(
        results_workbook: None, dd: Callable[..., Any]) -> None:
    assert dd("client", "edit", MASALA, "--results", "purchase,lead").exit_code == 0
    built = dd("report", "build", MASALA, *PERIOD, "--format", "json")
    assert built.exit_code == 0, built.stderr
    record = built.json()
    assert [(r["label"], r["cost_label"]) for r in record["results"]] == [
        ("Purchases", "Cost per purchase"), ("Leads", "Cost per lead")]
    assert any("datadrip sync --since 2026-11-01" in warning for warning in record["warnings"])
    assert "Results: Purchases **9.5** (cost per purchase ₹410.53); Leads **8** (cost per lead " \
        "₹487.50)." in record["summary"]
    for fmt in ("txt", "md", "html"):
        page = dd("report", "build", MASALA, *PERIOD, "--format", fmt)
        assert page.exit_code == 0, page.stderr
        assert "Purchases" in page.stdout and "Cost per purchase ₹410.53" in page.stdout, fmt
        assert "Cost per lead ₹487.50" in page.stdout, fmt
        assert "unavailable before" in page.stdout, fmt


def test_metrics_by_ad_notes_that_performance_max_has_no_ads(results_workbook: None,
                                                              dd: Callable[..., Any]) -> None:
    plain = dd("metrics", "--client", MASALA, "--by", "ad", *PERIOD, "--json")
    assert plain.exit_code == 0 and "Performance Max" not in plain.stderr
    with open_session(load_settings(), write=True) as wb:  # as the sync keeps channel types
        search = wb.session.exec(select(Entity).where(Entity.external_id == "g1")).one()
        search.objective = "PERFORMANCE_MAX"
        wb.session.add(search)
    for fmt in ("table", "json"):
        run = dd("metrics", "--client", MASALA, "--by", "ad", *PERIOD, "--format", fmt)
        assert run.exit_code == 0, run.stderr
        assert "Performance Max campaigns have no ads" in run.stderr, fmt
    assert "Performance Max" not in dd("metrics", "--client", MASALA, "--by", "campaign",
                                       *PERIOD).stderr
    json_out = dd("metrics", "--client", MASALA, "--by", "ad", *PERIOD, "--json")
    assert json_out.json() == []


def test_key_results_a_resync_of_the_days_without_actions_fills_them(
        results_workbook: None, dd: Callable[..., Any]) -> None:
    assert dd("client", "edit", MASALA, "--results", "purchase").exit_code == 0
    with open_session(load_settings()) as wb:
        engine = wb.session.get_bind()
        meta_id = wb.session.exec(select(AdAccount.id).where(AdAccount.platform == "meta")).one()
    refill = _row("c1", D0, 100, 1000, 30, "1", actions=(_a("omni_purchase", "1", 900 * M),))
    AccountWriter(engine, meta_id).write_chunk(  # type: ignore[arg-type]
        "campaign", DateWindow(D0, D0), [EntityRecord("campaign", "c1", "Diwali")], [refill])
    summary = _summary()
    assert summary.unavailable == [] and summary.notes() == []
    assert _figures(summary)["purchase"]["count"] == Decimal("10.5")


def test_metrics_results_columns_give_each_key_result_with_its_own_cost(
        results_workbook: None, dd: Callable[..., Any]) -> None:
    assert_bad_input(dd("metrics", "--client", MASALA, "--metrics", "spend,results", *PERIOD),
                     "no key results")
    assert dd("client", "edit", MASALA, "--results", "purchase,lead").exit_code == 0
    by_campaign = dd("metrics", "--client", MASALA, "--by", "campaign", "--metrics",
                     "spend,results", *PERIOD, "--json")
    assert by_campaign.exit_code == 0, by_campaign.stderr
    lines = {line["campaign"]: line for line in by_campaign.json()}
    assert list(lines["Diwali"]) == ["client", "platform", "campaign_external_id", "campaign",
                                     "spend", "purchase", "cost_per_purchase", "lead",
                                     "cost_per_lead", "currency"]
    assert (lines["Diwali"]["purchase"], lines["Diwali"]["cost_per_purchase"]) == (7, 228.57)
    assert (lines["Diwali"]["lead"], lines["Leads"]["lead"], lines["Search"]["lead"]) == (3, 4, 1)
    assert (lines["Search"]["purchase"], lines["Search"]["cost_per_purchase"]) == (2.5, 800.0)
    assert lines["Leads"]["cost_per_purchase"] is None
    by_day = dd("metrics", "--client", MASALA, "--by", "day", "--metrics", "results", *PERIOD,
                "--json").json()
    assert [(line["day"], line["purchase"], line["lead"]) for line in by_day] == [
        ("2026-11-01", 0, 0), ("2026-11-02", 7.5, 8), ("2026-11-03", 2, 0)]
    total = dd("metrics", "--client", MASALA, "--by", "total", "--metrics", "results", *PERIOD,
               "--json").json()
    assert (total[0]["purchase"], total[0]["cost_per_purchase"]) == (9.5, 410.53)
    assert_bad_input(dd("metrics", "--client", MASALA, "--by", "ad", "--metrics", "results",
                        *PERIOD), "not kept by ad")
