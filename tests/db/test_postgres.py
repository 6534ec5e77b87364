"""The workbook on a PostgreSQL server (a team's shared workbook): the same schema, the same
commands and the same answers as on SQLite."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import datadrip.db.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from datadrip.db import migrations
from datadrip.insights.facts import shown_figures

# The tables test_migrations pins, each created on the server too.
DATA_MODEL_TABLES = set(SQLModel.metadata.tables)


@pytest.fixture(autouse=True)
def on_postgres(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here works on a fresh PostgreSQL database (and is skipped without a server)."""
    monkeypatch.setenv("DATADRIP_WORKBOOK_URL", postgres_url)
    return postgres_url


@pytest.fixture
def server(postgres_url: str) -> Iterator[sa.Engine]:
    """A plain connection to the test database, to look at it without DataDrip."""
    engine = sa.create_engine(postgres_url)
    try:
        yield engine
    finally:
        engine.dispose()


def scalar(engine: sa.Engine, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def test_postgres_migrations_run_on_an_empty_database_without_drift(dd, server, workbook_path,
                                                                   postgres_url):
    run = dd("db", "upgrade", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["from"] is None
    assert run.json()["to"] == migrations.HEAD
    shown = sa.make_url(postgres_url).render_as_string(hide_password=True)
    assert run.json()["workbook"] == shown  # where it is, without the password
    assert ":datadrip_ci@" not in run.stdout + run.stderr
    assert not workbook_path.exists()  # the server is the workbook, no SQLite file appears
    assert scalar(server, "SELECT version_num FROM alembic_version") == migrations.HEAD
    assert set(sa.inspect(server).get_table_names()) == DATA_MODEL_TABLES | {"alembic_version"}
    with server.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "compare_server_default": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_postgres_db_upgrade_twice_reports_up_to_date(dd):
    assert dd("db", "upgrade").exit_code == 0

    run = dd("db", "upgrade", "--json")

    assert run.exit_code == 0, run.stderr
    assert (run.json()["from"], run.json()["to"]) == (migrations.HEAD, migrations.HEAD)


def test_postgres_money_columns_are_bigint_on_the_server(dd, server):
    assert dd("db", "upgrade").exit_code == 0
    with server.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND (column_name LIKE '%micros' "
            "OR column_name LIKE '%millionths' "
            "OR data_type IN ('real', 'double precision', 'numeric')) AND table_name IN "
            "(SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE')")).all()  # views: see below

    types = {(table, column): kind for table, column, kind in rows}
    exact = {(table, column) for table, column in types
             if column.endswith(("_micros", "_millionths"))}
    assert {("client", "monthly_budget_micros"), ("metric_daily", "spend_micros"),
            ("metric_daily", "conversion_value_micros"), ("llm_usage", "cost_micros"),
            ("metric_daily", "conversions_millionths"), ("entity", "daily_budget_micros"),
            ("metric_breakdown_daily", "spend_micros")} <= exact
    assert types == dict.fromkeys(exact, "bigint")  # and nothing is a float or a numeric


# Each step: the exit code it must give, and the command.
CRUD_FLOW: list[tuple[int, tuple[str, ...]]] = [
    (0, ("agency", "add", "Spice Route Media", "--timezone", "Asia/Kolkata", "--currency", "INR",
         "--json")),
    (0, ("agency", "add", "Harbour Digital", "--currency", "USD", "--timezone",
         "America/New_York", "--json")),
    (2, ("agency", "add", "spice route media", "--json")),  # a duplicate, whatever the case
    (0, ("agency", "list", "--json")),
    (0, ("agency", "show", "Spice Route Media", "--json")),
    (0, ("agency", "edit", "Harbour Digital", "--plan", "growth", "--colour", "#E4572E",
         "--json")),
    (2, ("agency", "edit", "Harbour Digital", "--name", "Spice Route Media")),  # a clash
    (0, ("client", "add", "Masala Mornings", "--agency", "Spice Route Media", "--recipients",
         "owner@masala.example,ops@masala.example", "--monthly-budget", "150000.50", "--json")),
    (2, ("client", "add", "Masala Mornings", "--agency", "Spice Route Media")),  # a duplicate
    (0, ("client", "add", "Masala Mornings", "--agency", "Harbour Digital", "--monthly-budget",
         "2500.25", "--json")),
    (0, ("client", "add", "Chai Point", "--agency", "Spice Route Media", "--json")),
    (0, ("client", "list", "--json")),
    (0, ("client", "list", "--agency", "Harbour Digital", "--json")),
    (0, ("client", "show", "Masala Mornings", "--agency", "Spice Route Media", "--json")),
    (2, ("client", "show", "Masala Mornings")),  # two agencies have one: ambiguous
    (0, ("client", "edit", "Masala Mornings", "--agency", "Spice Route Media",
         "--monthly-budget", "175000", "--recipients", "owner@masala.example", "--inactive",
         "--json")),
    (2, ("client", "edit", "Chai Point", "--name", "Masala Mornings")),  # a clash
    (0, ("client", "edit", "Masala Mornings", "--agency", "Harbour Digital",
         "--no-monthly-budget", "--json")),
    (0, ("user", "add", "priya@spiceroute.example", "--agency", "Spice Route Media", "--role",
         "owner", "--json")),
    (0, ("user", "add", "ravi@harbour.example", "--agency", "Harbour Digital", "--json")),
    (2, ("user", "add", "PRIYA@spiceroute.example", "--agency", "Harbour Digital")),
    (0, ("user", "list", "--json")),
    (0, ("user", "remove", "ravi@harbour.example", "--json")),
    (0, ("user", "list", "--json")),
    (0, ("client", "remove", "Chai Point", "--json")),
    (0, ("agency", "remove", "Harbour Digital", "--yes", "--json")),
    (0, ("client", "list", "--json")),
    (0, ("agency", "list", "--json")),
    (0, ("audit", "--json")),
]

ID = re.compile(r"\b[0-9a-f]{32}\b")
TIME = re.compile(r'"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00"')


def normalised(text: str, ids: dict[str, str]) -> str:
    """The output with ids numbered in order of appearance and timestamps blanked."""
    text = ID.sub(lambda m: ids.setdefault(m.group(), f"<id{len(ids) + 1}>"), text)
    return TIME.sub('"<time>"', text)


def run_flow(dd: Callable[..., Any]) -> list[tuple[int, str, str]]:
    ids: dict[str, str] = {}
    outcomes = []
    for _, args in CRUD_FLOW:
        run = dd(*args)
        error = next((line for line in run.stderr.splitlines() if line.startswith("error:")), "")
        outcomes.append((run.exit_code, normalised(run.stdout, ids), error))
    return outcomes


def test_postgres_crud_flow_through_the_cli_gives_the_same_answers_as_sqlite(
        dd, workbook_path, postgres_url, monkeypatch, server):
    monkeypatch.delenv("DATADRIP_WORKBOOK_URL")
    on_sqlite = run_flow(dd)
    assert workbook_path.is_file()
    monkeypatch.setenv("DATADRIP_WORKBOOK_URL", postgres_url)

    on_server = run_flow(dd)

    for (_, args), lite, pg in zip(CRUD_FLOW, on_sqlite, on_server, strict=True):
        assert pg == lite, " ".join(args)
    # And the answers are the right ones, not merely the same.
    for (expected, args), (code, _, error) in zip(CRUD_FLOW, on_server, strict=True):
        assert code == expected, (" ".join(args), error)
    outputs = {" ".join(args): out for (_, args), (_, out, _) in zip(CRUD_FLOW, on_server,
                                                                     strict=True)}
    errors = {" ".join(args): err for (_, args), (_, _, err) in zip(CRUD_FLOW, on_server,
                                                                    strict=True)}
    assert "already exists" in errors["agency add spice route media --json"]
    assert "already has a client named 'Masala Mornings'" in \
        errors["client add Masala Mornings --agency Spice Route Media"]
    assert "several agencies" in errors["client show Masala Mornings"]
    assert "already a team member" in \
        errors["user add PRIYA@spiceroute.example --agency Harbour Digital"]

    def document(key: str) -> Any:
        return json.loads(outputs[key], parse_float=Decimal)

    added = document("client add Masala Mornings --agency Spice Route Media --recipients "
                     "owner@masala.example,ops@masala.example --monthly-budget 150000.50 --json")
    assert added["monthly_budget"] == Decimal("150000.50")
    assert added["report_recipients"] == ["owner@masala.example", "ops@masala.example"]
    assert added["currency"] == "INR"
    edited = document("client edit Masala Mornings --agency Spice Route Media --monthly-budget "
                      "175000 --recipients owner@masala.example --inactive --json")
    assert (edited["monthly_budget"], edited["report_recipients"], edited["active"]) == \
        (Decimal("175000"), ["owner@masala.example"], False)
    cleared = document("client edit Masala Mornings --agency Harbour Digital "
                       "--no-monthly-budget --json")
    assert (cleared["monthly_budget"], cleared["currency"]) == (None, "USD")
    assert [(c["name"], c["agency"]) for c in document("client list --json")] == \
        [("Masala Mornings", "Spice Route Media")]
    assert [a["name"] for a in document("agency list --json")] == ["Spice Route Media"]
    assert [u["email"] for u in document("user list --json")] == ["priya@spiceroute.example"]
    actions = [entry["action"] for entry in document("audit --json")]
    assert actions == ["agency.add", "agency.add", "agency.edit", "client.add", "client.add",
                       "client.add", "client.edit", "client.edit", "user.add", "user.add",
                       "user.remove", "client.remove", "agency.remove"]
    # What the commands said is what the server holds.
    assert scalar(server, "SELECT count(*) FROM client") == 1
    assert scalar(server, "SELECT monthly_budget_micros FROM client") == 175_000_000_000
    assert scalar(server, "SELECT count(*) FROM audit_log") == len(actions)


def test_postgres_removing_a_client_with_data_cascades(dd, server, agency, give_client_data):
    added = dd("client", "add", "Masala Mornings", "--json")
    assert added.exit_code == 0, added.stderr
    client_id = added.json()["id"]
    give_client_data(client_id)
    tables = ("client", "ad_account", "entity", "metric_daily", "report", "insight")
    assert [scalar(server, f"SELECT count(*) FROM {t}") for t in tables] == [1] * 6

    refused = dd("client", "remove", "Masala Mornings")  # no terminal, no --yes
    assert refused.exit_code == 2
    assert "--yes" in refused.stderr
    assert [scalar(server, f"SELECT count(*) FROM {t}") for t in tables] == [1] * 6

    run = dd("client", "remove", "Masala Mornings", "--yes", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json() == {"removed": {"id": client_id, "name": "Masala Mornings"},
                          "with": {"ad_accounts": 1, "metric_rows": 1, "reports": 1,
                                   "insights": 1}}
    assert [scalar(server, f"SELECT count(*) FROM {t}") for t in tables] == [0] * 6
    audit = dd("audit", "--json").json()
    assert audit[-1]["action"] == "client.remove"
    assert audit[-1]["details"]["removed_with"] == {"ad_accounts": 1, "metric_rows": 1,
                                                    "reports": 1, "insights": 1}


def test_postgres_a_failed_command_leaves_nothing(dd, server, agency):
    before = scalar(server, "SELECT count(*) FROM audit_log")

    run = dd("client", "add", "Masala Mornings", "--recipients", "not-an-email")

    assert run.exit_code == 2
    assert scalar(server, "SELECT count(*) FROM client") == 0
    assert scalar(server, "SELECT count(*) FROM audit_log") == before


def test_postgres_refuses_another_applications_database_untouched(dd, server):
    with server.begin() as conn:
        conn.execute(sa.text("CREATE TABLE notes (id serial PRIMARY KEY, body text)"))
        conn.execute(sa.text("INSERT INTO notes (body) VALUES ('buy milk')"))

    run = dd("agency", "add", "Spice Route Media")

    assert run.exit_code == 2
    assert "not a DataDrip workbook" in run.stderr
    assert set(sa.inspect(server).get_table_names()) == {"notes"}
    assert scalar(server, "SELECT body FROM notes") == "buy milk"


def test_postgres_refuses_a_workbook_from_a_newer_datadrip(dd, server):
    assert dd("agency", "add", "Spice Route Media").exit_code == 0
    with server.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))

    run = dd("agency", "add", "Harbour Digital")

    assert run.exit_code == 2
    assert "newer DataDrip" in run.stderr
    assert "datadrip_ci:datadrip_ci@" not in run.stderr  # the password is not shown
    assert scalar(server, "SELECT version_num FROM alembic_version") == "9999"
    assert scalar(server, "SELECT count(*) FROM agency") == 1


@pytest.mark.postgres
def test_postgres_sync_lock_is_shared_by_every_machine_on_the_workbook(postgres_url, tmp_path):
    """Two engines stand for two machines: each has its own data folder, one lock between them."""
    import sqlalchemy as sa

    from datadrip.sync.lock import SyncLockedError, workbook_lock

    first, second = sa.create_engine(postgres_url), sa.create_engine(postgres_url)
    try:
        with workbook_lock(first, tmp_path / "a" / "lock", wait=False), \
                pytest.raises(SyncLockedError, match="another sync is already running"), \
                workbook_lock(second, tmp_path / "b" / "lock", wait=False):
            pass
        with workbook_lock(second, tmp_path / "b" / "lock", wait=False):
            pass  # released when the first sync ended
    finally:
        first.dispose()
        second.dispose()


# `datadrip sql` on the server: the views answer as on SQLite, and nothing run through it writes.

def _sql_rows(dd: Callable[..., Any], statement: str) -> list[dict[str, Any]]:
    run = dd("sql", statement, "--json")
    assert run.exit_code == 0, run.stderr
    return list(json.loads(run.stdout, parse_float=Decimal))


@pytest.fixture
def synced_on_server(dd, server, agency, give_client_data) -> dict[str, str]:
    """give_client_data's campaign (act_1, INR, 'Diwali', 2026-11-01), plus an ad set and an ad
    under it with a row each, written with plain SQL."""
    added = dd("client", "add", "Masala Mornings", "--json")
    assert added.exit_code == 0, added.stderr
    give_client_data(added.json()["id"])
    with server.begin() as conn:
        account, campaign = conn.execute(sa.text("SELECT account_id, id FROM entity")).one()
        for id_, level, parent, name in (("s1", "adset", campaign, "Mumbai 25-34"),
                                         ("d1", "ad", "s1", "Video 1")):
            conn.execute(sa.text(
                "INSERT INTO entity (id, account_id, level, external_id, name, parent_id, status, "
                "updated_at) VALUES (:id, :account, :level, :id, :name, :parent, 'ACTIVE', "
                "'2026-11-02 00:00:00')"),
                {"id": id_, "account": account, "level": level, "name": name, "parent": parent})
            conn.execute(sa.text(
                "INSERT INTO metric_daily (account_id, level, date, entity_id, spend_micros, "
                "impressions, clicks, conversions_millionths, conversion_value_micros, reach, synced_at) "
                "VALUES (:account, :level, '2026-11-01', :id, 1234560000, 1000, 25, 2500000, "
                "5000000000, 800, '2026-11-02 06:00:00')"),
                {"account": account, "level": level, "id": id_})
    return {"account": account, "campaign": campaign}


def test_postgres_sql_views_resolve_names_currencies_and_dates(dd, server, synced_on_server):
    campaigns = _sql_rows(dd, "SELECT * FROM campaign_daily")
    ads = _sql_rows(dd, "SELECT campaign_name, adset_name, entity_name, date, spend FROM ad_daily")
    accounts = _sql_rows(dd, "SELECT * FROM account_daily")
    per_client = _sql_rows(dd, "SELECT client, SUM(spend_micros)/1e6 AS spend FROM daily_metrics "
                               "WHERE date >= '2026-11-01' GROUP BY client")

    [campaign] = campaigns
    assert {key: campaign[key] for key in (
        "agency", "client", "platform", "account_external_id", "currency", "level",
        "entity_name", "campaign_name", "adset_name", "date", "spend_micros", "spend",
        "impressions", "clicks", "reach", "account_id")} == {
        "agency": "Spice Route Media", "client": "Masala Mornings", "platform": "meta",
        "account_external_id": "act_1", "currency": "INR", "level": "campaign",
        "entity_name": "Diwali", "campaign_name": "Diwali", "adset_name": None,
        "date": "2026-11-01", "spend_micros": 1_234_560_000, "spend": Decimal("1234.56"),
        "impressions": 1000, "clicks": 25, "reach": None,
        "account_id": synced_on_server["account"]}
    assert ads == [{"campaign_name": "Diwali", "adset_name": "Mumbai 25-34",
                    "entity_name": "Video 1", "date": "2026-11-01", "spend": Decimal("1234.56")}]
    [account] = accounts
    assert (account["date"], account["spend_micros"], account["spend"], account["campaigns"],
            account["impressions"], account["currency"]) == \
        ("2026-11-01", 1_234_560_000, Decimal("1234.56"), 1, 1000, "INR")
    assert per_client == [{"client": "Masala Mornings", "spend": Decimal("3703.68")}]
    with server.connect() as conn:
        views = conn.execute(sa.text(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND column_name LIKE '%micros' AND table_name "
            "IN (SELECT table_name FROM information_schema.views "
            "WHERE table_schema = current_schema())")).all()
    assert {table for table, _, _ in views} == {"daily_metrics", "campaign_daily", "adset_daily",
                                                 "ad_daily", "account_daily", "action_daily",
                                                 "metric_action_daily"}
    assert {kind for _, _, kind in views} == {"bigint"}  # money stays integer micros


PG_WRITES = {
    "insert": "INSERT INTO agency (id, name, timezone, currency, locale, plan, settings, "
              "created_at, updated_at) VALUES ('x', 'X', 'UTC', 'INR', 'en_IN', 'starter', '{}', "
              "now(), now())",
    "delete": "DELETE FROM metric_daily",
    "drop-table": "DROP TABLE metric_daily CASCADE",
    "create-table": "CREATE TABLE notes (body text)",
    "two-statements": "SELECT 1; DELETE FROM metric_daily",
    "commit-between": "SELECT 1; COMMIT; DELETE FROM metric_daily",
    "with-delete": "WITH gone AS (DELETE FROM metric_daily RETURNING 1) SELECT count(*) FROM gone",
    "select-nextval": "SELECT nextval('audit_log_id_seq')",
    "set-read-write": "SET TRANSACTION READ WRITE",
}


def _server_state(server: sa.Engine) -> tuple[Any, ...]:
    with server.connect() as conn:
        return (conn.execute(sa.text("SELECT count(*) FROM metric_daily")).scalar(),
                conn.execute(sa.text("SELECT count(*) FROM agency")).scalar(),
                conn.execute(sa.text("SELECT last_value FROM audit_log_id_seq")).scalar(),
                sorted(sa.inspect(conn).get_table_names()),
                conn.execute(sa.text("SELECT sum(spend_micros) FROM metric_daily")).scalar())


@pytest.mark.parametrize("statement", PG_WRITES.values(), ids=PG_WRITES.keys())
def test_postgres_sql_refuses_writes_and_leaves_the_server_unchanged(dd, server, synced_on_server,
                                                                     statement):
    before = _server_state(server)

    run = dd("sql", statement)

    assert run.exit_code == 2, (run.stdout, run.stderr)
    assert run.stdout == ""
    assert run.stderr.startswith("error: ")
    assert "only reads the workbook" in run.stderr or "one statement at a time" in run.stderr
    assert _server_state(server) == before


def test_postgres_sql_the_read_only_transaction_alone_refuses_a_write(dd, server, synced_on_server):
    """A data-modifying WITH starts like a query: the server's READ ONLY transaction stops it."""
    before = _server_state(server)

    run = dd("sql", PG_WRITES["with-delete"])

    assert "in a read-only transaction" in run.stderr.splitlines()[0]
    assert _server_state(server) == before


def test_postgres_sql_an_unknown_table_is_a_clear_error(dd, synced_on_server):
    run = dd("sql", "SELECT * FROM campaigns")

    assert run.exit_code == 2
    assert run.stderr.splitlines()[0] == 'error: the statement failed: relation "campaigns" does not exist'
    assert "daily_metrics" in run.stderr.splitlines()[1]


def test_postgres_sql_a_typo_gets_the_server_message(dd, synced_on_server):
    run = dd("sql", "SELEC * FROM daily_metrics")

    assert run.exit_code == 2
    assert run.stderr.splitlines()[0] == 'error: the statement failed: syntax error at or near "SELEC"'


def test_postgres_sql_a_query_that_never_ends_is_stopped_by_the_server(dd_process, server,
                                                                        synced_on_server):
    before = _server_state(server)

    run = dd_process("sql", "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                            "SELECT count(*) FROM n", env={"DATADRIP_SQL_TIMEOUT_SECONDS": "0.5"})

    assert run.exit_code == 1, run.stderr
    assert run.stdout == ""
    assert run.stderr.splitlines()[0] == "error: the query was stopped after 0.5 s ([sql] timeout_seconds)"
    assert _server_state(server) == before
    # The limit was that transaction's only; a query within it runs.
    slow = dd_process("sql", "SELECT count(*) AS n FROM pg_sleep(1)", "--json",
                      env={"DATADRIP_SQL_TIMEOUT_SECONDS": "30"})
    assert slow.json() == [{"n": 1}]


def test_postgres_metrics_and_dashboard_give_the_same_figures_as_on_sqlite(dd):
    from tests.analytics.analytics_support import fill_workbook

    fill_workbook(dd)
    assert dd("fx", "set", "USD", "INR", "83.10").exit_code == 0
    period = ("--since", "2026-11-01", "--until", "2026-11-03")

    weeks = dd("metrics", "--client", "Masala Mornings", "--by", "week", *period, "--metrics", "spend,ctr",
               "--json")
    months = dd("metrics", "--by", "month", *period, "--metrics", "spend", "--json")
    board = dd("dashboard", "--client", "Masala Mornings", *period, "--json")

    assert weeks.exit_code == months.exit_code == board.exit_code == 0, weeks.stderr + board.stderr
    # The figures of tests/analytics: Monday weeks, the agency blended into rupees.
    assert weeks.json() == [{"week": "2026-10-26", "spend": 2031.0, "ctr": 1.0, "currency": "INR"},
                            {"week": "2026-11-02", "spend": 500.5, "ctr": 0.0, "currency": "INR"}]
    assert months.json() == [{"month": "2026-11-01", "spend": 4193.5, "currency": "INR"}]
    kpis = {kpi["metric"]: kpi["value"] for kpi in board.json()["kpis"]}
    assert (kpis["spend"], kpis["cpa"], kpis["roas"]) == (2531.5, 460.27, 2.96)


def test_postgres_report_send_keeps_exact_numbers_and_sends_once(dd, server, home):
    from tests.analytics.analytics_support import fill_workbook

    fill_workbook(dd)
    assert dd("fx", "set", "USD", "INR", "83.10").exit_code == 0
    assert dd("client", "edit", "Masala Mornings", "--recipients", "owner@masala.example").exit_code == 0
    day = ("--kind", "daily", "--since", "2026-11-01", "--until", "2026-11-01")

    first = dd("report", "send", "Masala Mornings", *day, "--json")
    again = dd("report", "send", "Masala Mornings", *day, "--json")

    assert first.exit_code == again.exit_code == 0, first.stderr + again.stderr
    assert [r["status"] for r in first.json()["reports"] + again.json()["reports"]] == ["sent", "skipped"]
    assert len(list((home / "outbox").glob("*.eml"))) == 1
    stored = json.loads(scalar(server, "SELECT channel_data::text FROM report"), parse_float=Decimal)
    spend = next(kpi for kpi in stored["kpis"] if kpi["metric"] == "spend")
    assert spend["value"] == Decimal("2031.00")  # the JSON keeps the exact digits the report showed
    assert f"{spend['value']}" == "2031.00"
    assert scalar(server, "SELECT count(*) FROM report_delivery WHERE status = 'sent'") == 1


def test_postgres_insight_facts_and_lifecycle_give_the_same_answers_as_on_sqlite(dd, server):
    import datetime as dt

    from datadrip.db.models import Agency, Client
    from datadrip.insights.facts import client_facts
    from datadrip.platforms.registry import load_settings
    from datadrip.workbook.session import open_session
    from tests.analytics.analytics_support import fill_workbook
    from tests.insights.lifecycle_support import cpa_finding, save

    fill_workbook(dd)
    assert dd("fx", "set", "USD", "INR", "83.10").exit_code == 0
    with server.begin() as conn:  # every account synced through 3 Nov, as a sync would leave it
        conn.execute(sa.text("INSERT INTO sync_cursor (account_id, level, synced_through, updated_at) "
                             "SELECT id, 'campaign', '2026-11-03', now() FROM ad_account"))
    with open_session(load_settings()) as wb:
        client = wb.session.execute(sa.select(Client).where(Client.name == "Masala Mornings")).scalars().one()
        agency = wb.session.get(Agency, client.agency_id)
        assert agency is not None
        facts = client_facts(wb.session, agency, client, dt.date(2026, 11, 4))
    generated = dd("insight", "generate", "--engine", "heuristic", "--json")
    save("Masala Mornings", cpa_finding())
    listed = dd("insight", "list", "--json")
    dismissed = dd("insight", "dismiss", listed.json()[0]["id"], "--note", "Seasonal")
    again = save("Masala Mornings", cpa_finding())

    assert (facts.as_of, str(facts.recent), str(facts.baseline)) == (
        dt.date(2026, 11, 3), "2026-10-28..2026-11-03", "2026-09-30..2026-10-27")
    diwali = next(e for e in facts.entities.values() if e.name == "Diwali" and e.level == "campaign")
    assert shown_figures(diwali.recent, "INR") == {
        "spend": Decimal("1500.50"), "impressions": 15000, "clicks": 100, "conversions": Decimal("4.00"),
        "cpa": Decimal("375.13"), "roas": Decimal("3.33"), "ctr": Decimal("0.67"), "cvr": Decimal("4.00"),
        "frequency": None}
    assert generated.exit_code == 0, generated.stderr  # too few conversions to say anything
    assert [run["created"] for run in generated.json()["clients"]] == [[], []]
    assert dismissed.exit_code == 0, dismissed.stderr
    assert (len(again.suppressed), len(again.created)) == (1, 0)
    assert scalar(server, "SELECT status FROM insight") == "dismissed"


def test_postgres_model_requests_are_counted_and_cached_on_the_server(dd, server, sandbox, monkeypatch):
    from tests.analytics.analytics_support import fill_workbook
    from tests.insights.generate_support import chat_requests, point_at_model

    fill_workbook(dd)
    with server.begin() as conn:
        conn.execute(sa.text("INSERT INTO sync_cursor (account_id, level, synced_through, updated_at) "
                             "SELECT id, 'campaign', current_date - 1, now() FROM ad_account"))
    point_at_model(sandbox, monkeypatch)

    first = dd("insight", "generate", "--client", "Masala Mornings", "--engine", "llm", "--json")
    again = dd("insight", "generate", "--client", "Masala Mornings", "--engine", "llm", "--json")

    assert first.exit_code == again.exit_code == 0, first.stderr + again.stderr
    assert again.json()["clients"][0]["cached"] is True
    assert len(chat_requests(sandbox)) == 1
    assert scalar(server, "SELECT requests FROM llm_usage") == 1
    assert scalar(server, "SELECT prompt_tokens FROM llm_usage") > 0
    assert scalar(server, "SELECT count(*) FROM llm_cache") == 1


def test_postgres_migration_0011_rekeys_insights_so_a_dismissal_holds_across_engines(server):
    import datetime as dt
    import hashlib

    from tests.db.test_migrations import seed_of
    from tests.insights.lifecycle_support import cpa_finding, save

    old_fingerprint = hashlib.sha256("\x1f".join(
        ("c1", "performance", "performance.cpa", "campaign:120210001001", "worse")).encode()).hexdigest()[:32]
    payload = json.loads(json.dumps(cpa_finding().payload(), default=str))
    with server.begin() as connection:
        migrations.upgrade(connection, "0008")
        for statement in seed_of("0008"):
            connection.exec_driver_sql(statement.replace(", 1, '2026", ", true, '2026"))
        connection.execute(sa.text(
            "INSERT INTO insight (id, client_id, type, source, payload, impact_score, status, created_at, "
            "resolved_at, fingerprint, window_since, window_until) VALUES ('i1', 'c1', 'performance', "
            "'heuristic', CAST(:payload AS JSON), 72, 'dismissed', '2026-11-26 05:00', '2026-11-26 06:00', "
            ":fingerprint, '2026-11-19', '2026-11-25')"),
            {"payload": json.dumps(payload), "fingerprint": old_fingerprint})
    with server.begin() as connection:
        migrations.upgrade(connection, "head")
    by_model = cpa_finding(since=dt.date(2026, 11, 20), until=dt.date(2026, 11, 26))
    by_model.rule, by_model.source = "llm", "llm"

    saved = save("Masala Mornings", by_model)

    assert (len(saved.suppressed), len(saved.created)) == (1, 0)
    assert saved.suppressed[0][1].id == "i1"


def test_postgres_migration_0013_stores_conversions_as_integer_millionths_exactly_and_back(server):
    from tests.db.test_migrations import CONVERSIONS_AT_0012, downgrade, seed_of

    with server.begin() as connection:
        migrations.upgrade(connection, "0012")
        for statement in seed_of("0012"):
            connection.exec_driver_sql(statement.replace(", 1, '2026", ", true, '2026"))
        connection.exec_driver_sql(
            "INSERT INTO ad_account (id, client_id, platform, external_id, name, currency, timezone, "
            "status, created_at) VALUES ('x1', 'c1', 'google', '2020000001', 'Search', 'INR', "
            "'Asia/Kolkata', 'active', '2026-11-01 09:33:00')")
        for day, (stored, _, _) in enumerate(CONVERSIONS_AT_0012, start=1):
            connection.execute(sa.text(
                "INSERT INTO metric_daily (account_id, level, date, entity_id, spend_micros, "
                "impressions, clicks, conversions, conversion_value_micros, synced_at) VALUES "
                f"('x1', 'campaign', '2026-11-{day:02}', 'e1', 1000000, 10, 1, :stored, 0, "
                "'2026-11-30 00:00:00')"), {"stored": stored})
    with server.begin() as connection:
        migrations.upgrade(connection, "0013")
    with server.begin() as connection:
        assert connection.exec_driver_sql(
            "SELECT conversions_millionths FROM metric_daily ORDER BY date").scalars().all() == [
            millionths for _, millionths, _ in CONVERSIONS_AT_0012]
        shown = connection.exec_driver_sql(
            "SELECT conversions, conversions_millionths FROM account_daily ORDER BY date").all()
        assert shown == [(down, millionths) for _, millionths, down in CONVERSIONS_AT_0012]
        downgrade(connection, "0012")
    with server.begin() as connection:
        assert connection.exec_driver_sql(
            "SELECT conversions FROM account_daily ORDER BY date").scalars().all() == [
            down for _, _, down in CONVERSIONS_AT_0012]
        columns = connection.exec_driver_sql(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'metric_daily'"
        ).scalars().all()
        assert "conversions_millionths" not in columns


def test_postgres_migration_0014_lets_an_account_be_of_any_platform_and_back(server):
    from tests.db.test_migrations import ACCOUNTS_AT_0013, TIKTOK_ACCOUNT, account_state, downgrade, seed_of

    with server.begin() as connection:
        migrations.upgrade(connection, "0013")
        for statement in [*seed_of("0013"), *ACCOUNTS_AT_0013]:
            connection.exec_driver_sql(statement.replace(", 1, '2026", ", true, '2026"))
        before = account_state(connection)
    with server.begin() as connection, pytest.raises(sa.exc.IntegrityError):
        connection.exec_driver_sql(TIKTOK_ACCOUNT)
    with server.begin() as connection:
        migrations.upgrade(connection, "0014")
    with server.begin() as connection:
        assert account_state(connection) == before
        connection.exec_driver_sql(TIKTOK_ACCOUNT)
    with server.begin() as connection, pytest.raises(RuntimeError, match="accounts of tiktok"):
        downgrade(connection, "0013")
    with server.begin() as connection:
        connection.exec_driver_sql("DELETE FROM ad_account WHERE id = 'x3'")
        downgrade(connection, "0013")
    with server.begin() as connection:
        assert account_state(connection) == before
    with server.begin() as connection, pytest.raises(sa.exc.IntegrityError):
        connection.exec_driver_sql(TIKTOK_ACCOUNT)


def test_postgres_entity_settings_keep_one_change_row_per_changed_field(dd, server, agency,
                                                                        give_client_data):
    import dataclasses
    import datetime as dt

    from datadrip.platforms.base import EntityRecord, EntitySettings
    from datadrip.sync.store import AccountWriter

    added = dd("client", "add", "Masala Mornings", "--json")
    assert added.exit_code == 0, added.stderr
    give_client_data(added.json()["id"])
    writer = AccountWriter(server, scalar(server, "SELECT id FROM ad_account"))
    before = EntitySettings(objective="OUTCOME_SALES", daily_budget_micros=2_000_000_000,
                            bid_strategy="COST_CAP", starts_on=dt.date(2026, 3, 1))
    after = dataclasses.replace(before, daily_budget_micros=3_000_000_000,
                                bid_strategy="LOWEST_COST_WITHOUT_CAP")

    def write(settings: EntitySettings, day: dt.date) -> int:
        return writer.write_entity_settings(
            "campaign", [EntityRecord("campaign", "c1", "Diwali", None, "active", settings)],
            changed_on=day)

    assert write(before, dt.date(2026, 12, 2)) == 0  # the first read is no change
    assert write(before, dt.date(2026, 12, 2)) == 0
    assert write(after, dt.date(2026, 12, 3)) == 2
    with server.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT field, old_value, new_value, changed_on FROM entity_change ORDER BY field")
        ).all() == [("bid_strategy", "COST_CAP", "LOWEST_COST_WITHOUT_CAP", dt.date(2026, 12, 3)),
                    ("daily_budget_micros", "2000000000", "3000000000", dt.date(2026, 12, 3))]
        assert conn.execute(sa.text("SELECT daily_budget_micros, starts_on FROM entity")).one() \
            == (3_000_000_000, dt.date(2026, 3, 1))


def test_postgres_period_reach_and_search_shares_read_as_on_sqlite(dd, server, synced_on_server):
    """The hand-computed two days (1,000 impressions at 50 %, 3,000 at 25 % losing 10 % and 30 %
    to budget) weighted by eligible impressions in integers on the server too, and a period's
    reach read for exactly its range."""
    account, campaign = synced_on_server["account"], synced_on_server["campaign"]
    with server.begin() as conn:
        conn.execute(sa.text(
            "UPDATE metric_daily SET search_impression_share_millionths = 500000, "
            "search_budget_lost_share_millionths = 100000, search_rank_lost_share_millionths = 400000 "
            "WHERE entity_id = :campaign"), {"campaign": campaign})
        conn.execute(sa.text(
            "INSERT INTO metric_daily (account_id, level, date, entity_id, spend_micros, impressions, "
            "clicks, conversions_millionths, conversion_value_micros, synced_at, "
            "search_impression_share_millionths, search_budget_lost_share_millionths, "
            "search_rank_lost_share_millionths) VALUES (:account, 'campaign', '2026-11-02', "
            ":campaign, 0, 3000, 0, 0, 0, '2026-11-03 06:00:00', 250000, 300000, 450000)"),
            {"account": account, "campaign": campaign})
        conn.execute(sa.text(
            "INSERT INTO metric_period_reach (account_id, level, entity_id, date_from, date_to, "
            "reach, synced_at) VALUES (:account, 'campaign', :campaign, '2026-11-01', '2026-11-02', "
            "1600, '2026-11-03 06:00:00')"), {"account": account, "campaign": campaign})

    run = dd("metrics", "--client", "Masala Mornings", "--by", "campaign", "--since", "2026-11-01",
             "--until", "2026-11-02", "--metrics", "impressions,reach,frequency,"
             "search_impression_share,search_budget_lost_share,search_rank_lost_share", "--json")
    assert run.exit_code == 0, run.stderr
    [line] = json.loads(run.stdout, parse_float=Decimal)
    assert (line["impressions"], line["reach"], line["frequency"]) == (4000, 1600, Decimal("2.5"))
    # 4,000 / 14,000; (200 + 3,600) / 14,000; (800 + 5,400) / 14,000
    assert (line["search_impression_share"], line["search_budget_lost_share"],
            line["search_rank_lost_share"]) == (Decimal("28.57"), Decimal("27.14"), Decimal("44.29"))
    other = dd("metrics", "--client", "Masala Mornings", "--by", "campaign", "--since", "2026-11-01",
               "--until", "2026-11-03", "--metrics", "reach", "--json")
    assert other.exit_code == 0 and json.loads(other.stdout)[0]["reach"] is None  # not that range
