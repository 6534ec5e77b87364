"""`datadrip sql`: read-only SQL on the workbook over its documented views; it refuses writes."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import sqlite3
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import assert_bad_input, revision_of

from datadrip.db import migrations

AGENCY = "Spice Route Media"
METRIC_VIEWS = ["daily_metrics", "campaign_daily", "adset_daily", "ad_daily", "account_daily"]
# Results by action (tests/analytics/test_results.py fills and reads them).
VIEWS = [*METRIC_VIEWS, "action_daily", "conversion_actions"]
# The row-per-action view of metric_daily.actions, under the views above (docs/sql.md).
STORAGE_VIEWS = ["metric_action_daily"]
DAILY_COLUMNS = [
    "agency", "client", "platform", "account_external_id", "account_name", "currency", "level",
    "entity_external_id", "entity_name", "entity_status", "campaign_external_id", "campaign_name",
    "adset_external_id", "adset_name", "date", "spend_micros", "spend", "impressions", "clicks",
    "conversions", "conversion_value_micros", "conversion_value", "reach", "synced_at",
    "client_id", "account_id", "entity_id", "conversions_millionths"]
ACCOUNT_COLUMNS = [
    "agency", "client", "platform", "account_external_id", "account_name", "currency", "date",
    "spend_micros", "spend", "impressions", "clicks", "conversions", "conversion_value_micros",
    "conversion_value", "campaigns", "client_id", "account_id", "conversions_millionths"]


def ok(run: Any) -> Any:
    assert run.exit_code == 0, run.stderr
    return run


def rows(dd: Callable[..., Any], statement: str) -> list[dict[str, Any]]:
    """The statement's rows as --json gives them (numbers with a fraction read as Decimals)."""
    run = ok(dd("sql", statement, "--json"))
    return list(json.loads(run.stdout, parse_float=Decimal))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def counts(path: Path) -> dict[str, int]:
    """Rows per table, read without DataDrip."""
    connection = sqlite3.connect(path)
    try:
        tables = [name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                for table in tables}
    finally:
        connection.close()


@pytest.fixture
def synced(dd, agency) -> dict[str, str]:
    """Two clients as a sync leaves them: Masala Mornings' Meta account (INR) with a campaign,
    its ad set and ad, and a second campaign; Peak Trail's Google account (USD) with one
    campaign. Written through the models, as the sync writes them. Returns ids by name."""
    from datadrip.db.models import AdAccount, Entity, MetricDaily, MetricPeriodReach
    from datadrip.platforms.registry import load_settings
    from datadrip.workbook.session import open_session

    masala = ok(dd("client", "add", "Masala Mornings", "--json")).json()["id"]
    peak = ok(dd("client", "add", "Peak Trail Outfitters", "--currency", "USD", "--json")).json()["id"]
    ids: dict[str, str] = {"masala": masala, "peak": peak}
    with open_session(load_settings(), write=True) as wb:
        session = wb.session
        meta = AdAccount(client_id=masala, platform="meta", external_id="act_101",
                         name="Masala Meta", currency="INR", timezone="Asia/Kolkata")
        google = AdAccount(client_id=peak, platform="google", external_id="1234567890",
                           name="Peak Trail Search", currency="USD", timezone="America/Denver")
        session.add_all([meta, google])
        session.flush()
        diwali = Entity(account_id=meta.id, level="campaign", external_id="c1",
                        name="Diwali Sale", status="ACTIVE")
        brand = Entity(account_id=meta.id, level="campaign", external_id="c2", name="Brand",
                       status="PAUSED")
        search = Entity(account_id=google.id, level="campaign", external_id="g1",
                        name="Search - Brand", status="ENABLED")
        session.add_all([diwali, brand, search])
        session.flush()
        adset = Entity(account_id=meta.id, level="adset", external_id="s1",
                       name="Mumbai 25-34", parent_id=diwali.id, status="ACTIVE")
        session.add(adset)
        session.flush()
        ad = Entity(account_id=meta.id, level="ad", external_id="d1", name="Video 1",
                    parent_id=adset.id, status="ACTIVE")
        session.add(ad)
        session.flush()

        def metric(entity: Entity, day: int, spend: int, **more: Any) -> MetricDaily:
            return MetricDaily(account_id=entity.account_id, level=entity.level,
                               entity_id=entity.id, date=dt.date(2026, 11, day),
                               spend_micros=spend, **more)

        session.add_all([
            metric(diwali, 1, 1_234_560_000, impressions=1000, clicks=25, conversions_millionths=2_500_000,
                   conversion_value_micros=5_000_000_000, reach=800),
            metric(diwali, 2, 1_000_000_000, impressions=900, clicks=20, conversions_millionths=1_000_000,
                   conversion_value_micros=2_000_500_000, reach=700),
            metric(brand, 1, 500_000_000, impressions=400, clicks=4, conversions_millionths=500_000,
                   conversion_value_micros=0),
            metric(adset, 1, 1_234_560_000, impressions=1000, clicks=25, conversions_millionths=2_500_000,
                   conversion_value_micros=5_000_000_000, reach=800),
            metric(ad, 1, 1_234_560_000, impressions=1000, clicks=25, conversions_millionths=2_500_000,
                   conversion_value_micros=5_000_000_000, reach=800),
            metric(search, 1, 19_990_000, impressions=300, clicks=12, conversions_millionths=1_000_000,
                   conversion_value_micros=120_000_000, search_impression_share_millionths=425_000,
                   search_budget_lost_share_millionths=75_000,
                   search_rank_lost_share_millionths=500_000),
            # The two days' reach as Meta counted it for the pair: below 800 + 700.
            MetricPeriodReach(account_id=meta.id, level="account", entity_id=meta.id,
                              date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 11, 2),
                              reach=1_100),
        ])
        session.flush()
        ids.update(meta=meta.id, google=google.id, diwali=diwali.id, adset=adset.id, ad=ad.id)
    return ids


# --- the views ----------------------------------------------------------------------------------

def test_sql_daily_metrics_has_every_synced_row_with_names_and_currencies_resolved(dd, synced):
    found = rows(dd, "SELECT * FROM daily_metrics ORDER BY platform, level, entity_name, date")

    assert len(found) == 6
    assert list(found[0]) == DAILY_COLUMNS
    ad = next(row for row in found if row["level"] == "ad")
    assert ad == {
        "agency": AGENCY, "client": "Masala Mornings", "platform": "meta",
        "account_external_id": "act_101", "account_name": "Masala Meta", "currency": "INR",
        "level": "ad", "entity_external_id": "d1", "entity_name": "Video 1",
        "entity_status": "ACTIVE", "campaign_external_id": "c1", "campaign_name": "Diwali Sale",
        "adset_external_id": "s1", "adset_name": "Mumbai 25-34", "date": "2026-11-01",
        "spend_micros": 1_234_560_000, "spend": Decimal("1234.56"), "impressions": 1000,
        "clicks": 25, "conversions": Decimal("2.5"), "conversion_value_micros": 5_000_000_000,
        "conversion_value": 5000, "reach": 800, "synced_at": ad["synced_at"],
        "client_id": synced["masala"], "account_id": synced["meta"], "entity_id": synced["ad"],
        "conversions_millionths": 2_500_000}
    assert dt.datetime.fromisoformat(ad["synced_at"]).date() == dt.datetime.now(dt.UTC).date()
    google = [row for row in found if row["platform"] == "google"]
    assert [(r["client"], r["currency"], r["campaign_name"], r["spend_micros"], r["spend"])
            for r in google] == [("Peak Trail Outfitters", "USD", "Search - Brand", 19_990_000,
                                  Decimal("19.99"))]


def test_sql_level_views_hold_one_level_each_with_their_parents_names(dd, synced):
    campaigns = rows(dd, "SELECT * FROM campaign_daily ORDER BY account_name, campaign_name, date")
    adsets = rows(dd, "SELECT * FROM adset_daily")
    ads = rows(dd, "SELECT * FROM ad_daily")

    assert [(r["account_name"], r["campaign_name"], r["entity_name"], r["date"], r["spend"])
            for r in campaigns] == [
        ("Masala Meta", "Brand", "Brand", "2026-11-01", 500),
        ("Masala Meta", "Diwali Sale", "Diwali Sale", "2026-11-01", Decimal("1234.56")),
        ("Masala Meta", "Diwali Sale", "Diwali Sale", "2026-11-02", 1000),
        ("Peak Trail Search", "Search - Brand", "Search - Brand", "2026-11-01", Decimal("19.99"))]
    assert {r["level"] for r in campaigns} == {"campaign"}
    assert {r["adset_name"] for r in campaigns} == {None}
    assert [(r["level"], r["entity_name"], r["campaign_name"], r["campaign_external_id"],
             r["adset_name"]) for r in adsets] == [
        ("adset", "Mumbai 25-34", "Diwali Sale", "c1", "Mumbai 25-34")]
    assert [(r["level"], r["entity_name"], r["campaign_name"], r["adset_name"],
             r["adset_external_id"]) for r in ads] == [
        ("ad", "Video 1", "Diwali Sale", "Mumbai 25-34", "s1")]
    for rows_of_a_level in (campaigns, adsets, ads):
        assert list(rows_of_a_level[0]) == DAILY_COLUMNS


def test_sql_account_daily_sums_an_accounts_campaigns_per_day(dd, synced):
    found = rows(dd, "SELECT * FROM account_daily ORDER BY account_name, date")

    assert list(found[0]) == ACCOUNT_COLUMNS
    assert [(r["client"], r["platform"], r["account_external_id"], r["currency"], r["date"],
             r["spend_micros"], r["spend"], r["impressions"], r["clicks"], r["conversions"],
             r["conversion_value_micros"], r["conversion_value"], r["campaigns"])
            for r in found] == [
        ("Masala Mornings", "meta", "act_101", "INR", "2026-11-01", 1_734_560_000,
         Decimal("1734.56"), 1400, 29, 3, 5_000_000_000, 5000, 2),
        ("Masala Mornings", "meta", "act_101", "INR", "2026-11-02", 1_000_000_000, 1000, 900, 20,
         1, 2_000_500_000, Decimal("2000.5"), 1),
        ("Peak Trail Outfitters", "google", "1234567890", "USD", "2026-11-01", 19_990_000,
         Decimal("19.99"), 300, 12, 1, 120_000_000, 120, 1)]
    # Ad set and ad rows are not added again on top of their campaign's.
    assert [r["account_id"] for r in found] == [synced["meta"], synced["meta"], synced["google"]]


def test_sql_the_example_from_the_help_gives_spend_per_client(dd, synced):
    found = rows(dd, "SELECT client, SUM(spend_micros)/1e6 FROM campaign_daily "
                     "WHERE date >= '2026-11-01' GROUP BY client ORDER BY client")

    assert found == [{"client": "Masala Mornings", "SUM(spend_micros)/1e6": Decimal("2734.56")},
                     {"client": "Peak Trail Outfitters", "SUM(spend_micros)/1e6": Decimal("19.99")}]


def test_sql_views_are_in_the_workbook_and_each_answers(dd, synced, workbook_path):
    listed = rows(dd, "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name")

    assert [row["name"] for row in listed] == sorted([*VIEWS, *STORAGE_VIEWS])
    for view in METRIC_VIEWS:
        assert rows(dd, f"SELECT count(*) AS n FROM {view}")[0]["n"] > 0, view


def test_sql_a_renamed_campaign_shows_its_new_name_on_old_days(dd, synced, workbook_path):
    connection = sqlite3.connect(workbook_path)
    with connection:
        connection.execute("UPDATE entity SET name = 'Diwali Mega Sale' WHERE external_id = 'c1'")
    connection.close()

    found = rows(dd, "SELECT DISTINCT campaign_name FROM daily_metrics "
                     "WHERE account_external_id = 'act_101' ORDER BY 1")

    assert [row["campaign_name"] for row in found] == ["Brand", "Diwali Mega Sale"]


# --- output formats -----------------------------------------------------------------------------

QUERY = ("SELECT client, campaign_name, date, spend_micros, spend, conversions, reach "
         "FROM campaign_daily WHERE account_external_id = 'act_101' ORDER BY campaign_name, date")


def test_sql_json_keeps_numbers_numbers_and_dates_iso(dd, synced):
    run = ok(dd("sql", QUERY, "--format", "json"))

    assert run.stderr == ""
    assert json.loads(run.stdout) == [
        {"client": "Masala Mornings", "campaign_name": "Brand", "date": "2026-11-01",
         "spend_micros": 500_000_000, "spend": 500, "conversions": 0.5, "reach": None},
        {"client": "Masala Mornings", "campaign_name": "Diwali Sale", "date": "2026-11-01",
         "spend_micros": 1_234_560_000, "spend": 1234.56, "conversions": 2.5, "reach": 800},
        {"client": "Masala Mornings", "campaign_name": "Diwali Sale", "date": "2026-11-02",
         "spend_micros": 1_000_000_000, "spend": 1000, "conversions": 1, "reach": 700}]
    assert ok(dd("sql", QUERY, "--json")).stdout == run.stdout


def test_sql_csv_has_a_header_and_one_line_per_row(dd, synced):
    run = ok(dd("sql", QUERY, "--format", "csv"))

    assert run.stdout.splitlines()[0] == "client,campaign_name,date,spend_micros,spend,conversions,reach"
    assert list(csv.reader(io.StringIO(run.stdout)))[1:] == [
        ["Masala Mornings", "Brand", "2026-11-01", "500000000", "500", "0.5", ""],
        ["Masala Mornings", "Diwali Sale", "2026-11-01", "1234560000", "1234.56", "2.5", "800"],
        ["Masala Mornings", "Diwali Sale", "2026-11-02", "1000000000", "1000", "1", "700"]]
    assert ok(dd("sql", QUERY, "--csv")).stdout == run.stdout


def test_sql_table_is_the_default_and_tab_separated_when_piped(dd, synced):
    run = ok(dd("sql", QUERY))

    assert run.stdout == ok(dd("sql", QUERY, "--format", "table")).stdout
    assert [line.split("\t") for line in run.stdout.splitlines()] == [
        ["Masala Mornings", "Brand", "2026-11-01", "500000000", "500", "0.5", ""],
        ["Masala Mornings", "Diwali Sale", "2026-11-01", "1234560000", "1234.56", "2.5", "800"],
        ["Masala Mornings", "Diwali Sale", "2026-11-02", "1000000000", "1000", "1", "700"]]


def test_sql_no_rows_is_an_empty_list_a_header_or_a_note(dd, synced):
    empty = "SELECT client, spend FROM campaign_daily WHERE date > '2030-01-01'"

    assert ok(dd("sql", empty, "--json")).stdout == "[]\n"
    assert ok(dd("sql", empty, "--csv")).stdout == "client,spend\n"
    table = ok(dd("sql", empty))
    assert (table.stdout, table.stderr) == ("", "No rows.\n")


def test_sql_reads_the_statement_from_stdin(dd, synced):
    run = ok(dd("sql", "-", "--json", input="SELECT count(*) AS n\nFROM ad_daily;\n"))

    assert run.json() == [{"n": 1}]


def test_sql_floats_keep_the_digits_a_double_holds_and_repeated_names_are_numbered(dd, synced):
    found = rows(dd, "SELECT 0.1 + 0.2 AS x, 1 AS x, x'00ff' AS raw, NULL AS empty, "
                     "1e999 AS too_big")

    assert found == [{"x": Decimal("0.3"), "x_2": 1, "raw": "00ff", "empty": None,
                      "too_big": None}]


def test_sql_a_read_only_pragma_and_a_with_query_are_allowed(dd, synced):
    columns = rows(dd, "PRAGMA table_info(account_daily)")
    totals = rows(dd, "WITH t AS (SELECT currency, SUM(spend_micros) AS s FROM account_daily "
                      "GROUP BY currency) SELECT * FROM t ORDER BY currency")

    assert [c["name"] for c in columns] == ACCOUNT_COLUMNS
    assert totals == [{"currency": "INR", "s": 2_734_560_000}, {"currency": "USD", "s": 19_990_000}]


def test_sql_pragma_table_functions_are_read_like_tables(dd, synced, workbook_path):
    # The first use of such a table in a connection: SQLite checks its declaration as a write of
    # sqlite_master, which is not the query's doing.
    databases = rows(dd, "SELECT name, file FROM pragma_database_list")
    columns = rows(dd, "SELECT name FROM pragma_table_info('account_daily') ORDER BY cid")
    joined = rows(dd, "SELECT m.name, count(*) AS n FROM sqlite_master AS m, pragma_table_info(m.name) "
                      "WHERE m.name = 'agency' GROUP BY m.name")

    assert databases == [{"name": "main", "file": str(workbook_path.resolve())}]
    assert [c["name"] for c in columns] == ACCOUNT_COLUMNS
    assert joined == [{"name": "agency", "n": 10}]


def test_sql_a_pragma_table_function_cannot_set_anything(dd, synced, workbook_path):
    before = digest(workbook_path)

    for statement in ("SELECT * FROM pragma_journal_mode('delete')",
                      "SELECT * FROM pragma_user_version(7)"):
        assert_bad_input(dd("sql", statement), "the statement failed: ")  # SQLite's own refusal

    assert digest(workbook_path) == before
    assert rows(dd, "PRAGMA journal_mode") == [{"journal_mode": "wal"}]


def test_sql_more_than_one_output_format_is_a_usage_error(dd, synced):
    run = dd("sql", "SELECT 1", "--json", "--format", "csv")

    assert_bad_input(run, "--format")


# --- writes are refused, and the workbook is left as it was -------------------------------------

WRITES = {
    "insert": "INSERT INTO agency (id, name, timezone, currency, locale, plan, settings, "
              "created_at, updated_at) VALUES ('x', 'X', 'UTC', 'INR', 'en_IN', 'starter', '{}', "
              "'2026-11-01', '2026-11-01')",
    "update": "UPDATE metric_daily SET spend_micros = 0",
    "delete": "DELETE FROM metric_daily",
    "drop-table": "DROP TABLE metric_daily",
    "drop-view": "DROP VIEW daily_metrics",
    "create-table": "CREATE TABLE notes (body TEXT)",
    "create-temp-table": "CREATE TEMP TABLE notes AS SELECT * FROM agency",
    "alter-table": "ALTER TABLE agency ADD COLUMN note TEXT",
    "attach": "ATTACH DATABASE 'elsewhere.db' AS elsewhere",
    "vacuum-into": "VACUUM INTO 'copy.db'",
    "begin": "BEGIN IMMEDIATE",
    "replace": "REPLACE INTO agency (id, name) VALUES ('x', 'X')",
    "pragma-journal-mode": "PRAGMA journal_mode = DELETE",
    "pragma-query-only-off": "PRAGMA query_only = OFF",
    "pragma-user-version": "PRAGMA user_version = 7",
    "with-delete": "WITH old AS (SELECT date FROM metric_daily) DELETE FROM metric_daily "
                   "WHERE date IN (SELECT date FROM old)",
    "with-insert": "WITH x AS (SELECT 1) INSERT INTO audit_log (at, actor, action, entity, "
                   "entity_id, details) SELECT '2026-11-01', 'me', 'x', 'x', 'x', '{}' FROM x",
    "comment-then-delete": "/* looks harmless */ -- really\n DELETE FROM agency",
    "two-statements": "SELECT 1; DELETE FROM metric_daily",
    "select-then-drop": "SELECT * FROM agency;\nDROP TABLE agency;",
}


@pytest.mark.parametrize("statement", WRITES.values(), ids=WRITES.keys())
def test_sql_refuses_writes_and_leaves_the_workbook_byte_for_byte(dd, synced, workbook_path,
                                                                   home, statement):
    before, rows_before = digest(workbook_path), counts(workbook_path)
    files_before = {p.name for p in home.iterdir()} | {"workbook.db-wal", "workbook.db-shm"}

    run = dd("sql", statement)

    error = assert_bad_input(run)
    assert ("only reads the workbook" in error and "refused" in error) or \
        "one statement at a time" in error, error
    assert "Hint: " in run.stderr
    assert digest(workbook_path) == before
    assert counts(workbook_path) == rows_before
    assert {p.name for p in home.iterdir()} <= files_before  # no attached or vacuumed copy
    assert not (Path.cwd() / "elsewhere.db").exists() and not (Path.cwd() / "copy.db").exists()
    assert revision_of(workbook_path) == migrations.HEAD


def test_sql_refusals_name_what_was_refused(dd, synced):
    assert "DELETE statements are refused" in dd("sql", "DELETE FROM agency").stderr
    assert "INSERT into audit_log is refused" in dd("sql", WRITES["with-insert"]).stderr
    assert "DELETE from metric_daily is refused" in dd("sql", WRITES["with-delete"]).stderr
    assert "PRAGMA journal_mode = DELETE is refused" in dd("sql", WRITES["pragma-journal-mode"]).stderr
    assert "ATTACH statements are refused" in dd("sql", WRITES["attach"]).stderr
    assert "one statement at a time" in dd("sql", WRITES["two-statements"]).stderr


CONNECTION_WRITES = [
    "INSERT INTO agency (id, name) VALUES ('x', 'X')",
    "DELETE FROM metric_daily",
    "DROP TABLE agency",
    "CREATE TABLE notes (body TEXT)",
    "CREATE TEMP TABLE notes (body TEXT)",
    "ATTACH DATABASE 'elsewhere.db' AS elsewhere",
    "VACUUM INTO 'copy.db'",
    "VACUUM",
    "BEGIN",
    "PRAGMA query_only = OFF",
    "PRAGMA journal_mode = DELETE",
]


@pytest.mark.parametrize("statement", CONNECTION_WRITES)
def test_sql_the_read_only_connection_itself_refuses_writes(synced, workbook_path, statement):
    """Without the first-word check in front: the connection alone keeps the workbook whole."""
    from datadrip.workbook.sql_console import sqlite_read_only

    before, rows_before = digest(workbook_path), counts(workbook_path)

    with sqlite_read_only(workbook_path) as connection:
        with pytest.raises(sqlite3.DatabaseError):
            connection.execute(statement)
        # It still reads, and still refuses, afterwards.
        assert connection.execute("SELECT count(*) FROM agency").fetchone() == (1,)
        with pytest.raises(sqlite3.DatabaseError):
            connection.execute("DELETE FROM agency")

    assert digest(workbook_path) == before
    assert counts(workbook_path) == rows_before
    assert not (Path.cwd() / "elsewhere.db").exists() and not (Path.cwd() / "copy.db").exists()


def test_sql_a_successful_query_leaves_the_workbook_byte_for_byte(dd, synced, workbook_path):
    before = digest(workbook_path)

    ok(dd("sql", "SELECT * FROM daily_metrics"))

    assert digest(workbook_path) == before


# --- bad SQL and the workbook's state -----------------------------------------------------------

def test_sql_an_unknown_table_is_a_clear_error_naming_the_views(dd, synced):
    run = dd("sql", "SELECT * FROM campaigns")

    assert_bad_input(run, "no such table: campaigns")
    hint = run.stderr.splitlines()[1]
    assert hint.startswith("Hint: ")
    assert all(view in hint for view in VIEWS)


@pytest.mark.parametrize("statement", ["SELECT FROM WHERE", "SELECT spend FROM campaign_daily "
                                       "WHERE nosuchcolumn = 1", "SELECT 'unterminated"])
def test_sql_bad_sql_is_a_clear_error(dd, synced, statement):
    assert_bad_input(dd("sql", statement), "the statement failed")


@pytest.mark.parametrize("statement, message", [
    ("SELEC * FROM daily_metrics", 'near "SELEC": syntax error'),
    ("SLECT 1", 'near "SLECT": syntax error'),
    ("1 + 1", 'near "1": syntax error'),
    ("/* note */ FROM daily_metrics SELECT *", 'near "FROM": syntax error'),
])
def test_sql_a_typo_in_the_first_word_gets_the_database_message(dd, synced, workbook_path,
                                                                statement, message):
    before = digest(workbook_path)

    run = dd("sql", statement)

    assert assert_bad_input(run) == f"error: the statement failed: {message}"
    assert run.stderr.splitlines()[1].startswith("Hint: Query the views daily_metrics")
    assert digest(workbook_path) == before


def test_sql_a_query_that_never_ends_is_stopped_at_the_time_limit(dd_process, synced, workbook_path):
    before = digest(workbook_path)
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    started = time.monotonic()

    run = dd_process("sql", endless, env={"DATADRIP_SQL_TIMEOUT_SECONDS": "0.5"})

    assert run.exit_code == 1, run.stderr
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        "error: the query was stopped after 0.5 s ([sql] timeout_seconds)",
        "Hint: Narrow it (a date range, a LIMIT; a recursive WITH needs a condition that ends it), "
        "or raise [sql] timeout_seconds."]
    assert time.monotonic() - started < 20  # a process start, the migration check, and 0.5 s
    assert digest(workbook_path) == before
    # The same connection's limit is a duration, not a count of rows: a long finite query passes.
    finite = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) " \
             "SELECT count(*) AS c FROM n"
    assert rows(lambda *args: dd_process(*args, env={"DATADRIP_SQL_TIMEOUT_SECONDS": "20"}),
                finite) == [{"c": 200000}]


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_sql_a_time_limit_that_is_not_a_positive_number_is_a_config_error(dd, synced, monkeypatch,
                                                                          value):
    monkeypatch.setenv("DATADRIP_SQL_TIMEOUT_SECONDS", value)

    assert_bad_input(dd("sql", "SELECT 1"), "DATADRIP_SQL_TIMEOUT_SECONDS", "[sql] timeout_seconds")


@pytest.mark.parametrize("statement", ["", "   ", ";", "/* only a comment */"])
def test_sql_an_empty_statement_is_a_usage_error(dd, synced, statement):
    error = assert_bad_input(dd("sql", statement))

    assert "no SQL statement" in error or "without a keyword" in error


def test_sql_missing_workbook_is_an_error_and_creates_nothing(dd, workbook_path, home):
    run = dd("sql", "SELECT * FROM daily_metrics")

    assert_bad_input(run, "no workbook at", str(workbook_path))
    assert "datadrip init" in run.stderr
    assert not workbook_path.exists()
    assert not home.exists() or list(home.iterdir()) == []


def test_sql_an_empty_database_file_is_refused_and_left_empty(dd, workbook_path):
    workbook_path.parent.mkdir(parents=True)
    workbook_path.touch()

    run = dd("sql", "SELECT 1")

    assert_bad_input(run, "is empty")
    assert workbook_path.read_bytes() == b""


def test_sql_refuses_a_workbook_from_a_newer_datadrip_untouched(dd, synced, workbook_path):
    connection = sqlite3.connect(workbook_path)
    with connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.close()
    before = digest(workbook_path)

    run = dd("sql", "SELECT 1")

    assert_bad_input(run, "newer DataDrip")
    assert digest(workbook_path) == before


def test_sql_a_file_that_is_not_a_workbook_is_refused_untouched(dd, workbook_path):
    workbook_path.parent.mkdir(parents=True)
    workbook_path.write_text("shopping list\n", encoding="utf-8")

    assert_bad_input(dd("sql", "SELECT 1"), "not a DataDrip workbook")
    assert workbook_path.read_text(encoding="utf-8") == "shopping list\n"


def test_sql_an_older_workbook_is_brought_to_the_current_schema_first(dd, workbook_path):
    """As every command does on first use; then the views are there to query."""
    workbook_path.parent.mkdir(parents=True)
    old = sa.create_engine(f"sqlite:///{workbook_path}")
    with old.begin() as connection:
        migrations.upgrade(connection, "0003")
        connection.exec_driver_sql(
            "INSERT INTO agency (id, name, timezone, currency, locale, plan, settings, "
            "created_at, updated_at) VALUES ('a1', 'Spice Route Media', 'Asia/Kolkata', 'INR', "
            "'en_IN', 'growth', '{}', '2026-11-01 09:30:00', '2026-11-01 09:30:00')")
    old.dispose()

    run = ok(dd("sql", "SELECT count(*) AS n FROM daily_metrics", "--json"))

    assert run.json() == [{"n": 0}]
    assert revision_of(workbook_path) == migrations.HEAD
    assert rows(dd, "SELECT name FROM agency") == [{"name": "Spice Route Media"}]


def test_sql_uses_the_configured_workbook_url(dd, synced, workbook_path, tmp_path, monkeypatch):
    moved = tmp_path / "team.db"
    workbook_path.rename(moved)
    monkeypatch.setenv("DATADRIP_WORKBOOK_URL", f"sqlite:///{moved}")

    assert rows(dd, "SELECT count(*) AS n FROM campaign_daily") == [{"n": 4}]
    assert not workbook_path.exists()


# --- the documentation --------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sql.md"


def documented_columns(view: str) -> list[str]:
    """The column names in the first cells of the table under the view's heading in docs/sql.md."""
    import re

    section = DOCS.read_text(encoding="utf-8").split(f"\n### {view}\n", 1)[1].split("\n## ")[0]
    section = section.split("\n### ")[0]
    names: list[str] = []
    for line in section.splitlines():
        if line.startswith("| `"):
            names += re.findall(r"`([a-z_]+)`", line.split("|")[1])
    return names


def test_sql_docs_describe_every_column_of_every_view(dd, synced):
    text = DOCS.read_text(encoding="utf-8")

    assert documented_columns("daily_metrics") == DAILY_COLUMNS
    assert documented_columns("account_daily") == ACCOUNT_COLUMNS
    assert "### campaign_daily, adset_daily, ad_daily" in text
    for view, expected in (("daily_metrics", DAILY_COLUMNS), ("account_daily", ACCOUNT_COLUMNS),
                           ("campaign_daily", DAILY_COLUMNS), ("adset_daily", DAILY_COLUMNS),
                           ("ad_daily", DAILY_COLUMNS)):
        assert [c["name"] for c in rows(dd, f"PRAGMA table_info({view})")] == expected, view


def test_sql_the_recipes_in_the_docs_run(dd, synced):
    text = DOCS.read_text(encoding="utf-8")
    recipes = [block.split("```", 1)[0] for block in text.split("```sql\n")[1:]]
    commands = [line for block in text.split("```sh\n")[1:] for line in
                block.split("```", 1)[0].splitlines() if line.startswith('datadrip sql "')]

    assert len(recipes) >= 2 and len(commands) >= 3
    for recipe in recipes:
        assert dd("sql", recipe, "--json").exit_code == 0, recipe
    for command in commands:
        statement = command.split('"')[1]
        run = dd("sql", statement, "--json")
        assert run.exit_code == 0, (statement, run.stderr)
        assert run.json() or "LIMIT 0" in statement, statement


def test_sql_views_migration_downgrades_and_upgrades_again(workbook_path):
    from alembic import command

    workbook_path.parent.mkdir(parents=True)
    engine = sa.create_engine(f"sqlite:///{workbook_path}")

    def views() -> list[str]:
        with engine.connect() as connection:
            return [name for (name,) in connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name")]

    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0004")
        assert views() == sorted(METRIC_VIEWS)
        with engine.begin() as connection:
            config = migrations.alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0002")  # through 0003, which rebuilds metric_daily
        assert views() == []
        with engine.begin() as connection:
            migrations.upgrade(connection, "0004")
        assert views() == sorted(METRIC_VIEWS)
        with engine.begin() as connection:
            migrations.upgrade(connection, "0016")
        assert views() == sorted(VIEWS)
        with engine.begin() as connection:
            config = migrations.alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0015")
        assert views() == sorted(METRIC_VIEWS)
    finally:
        engine.dispose()
