"""Migrations: REVISIONS mirrors the Alembic scripts, every earlier workbook upgrades with its
data, the migrated schema equals the models, and the scripts ship in the package."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel
from support import revision_of

import datadrip
import datadrip.db.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from datadrip.db import migrations
from datadrip.db.engine import open_workbook

REPO = Path(__file__).resolve().parents[2]
PACKAGE = Path(datadrip.__file__).resolve().parent

DATA_MODEL_TABLES = {"agency", "user", "client", "ad_account", "entity", "metric_daily",
                     "sync_run", "sync_cursor", "report", "insight", "audit_log", "llm_usage",
                     "fx_rate", "report_delivery", "job_run", "llm_cache", "conversion_action",
                     "metric_breakdown_daily", "entity_change", "metric_period_reach"}


@pytest.fixture
def engine(workbook_path: Path) -> Iterator[sa.Engine]:
    """The workbook as DataDrip opens it: created, migrated, foreign keys on."""
    opened = open_workbook(str(workbook_path))
    try:
        yield opened
    finally:
        opened.dispose()


def test_migrations_revisions_equal_the_alembic_script_chain_in_order():
    scripts = ScriptDirectory.from_config(migrations.alembic_config())

    chain = [script.revision for script in scripts.walk_revisions("base", "heads")]

    assert list(migrations.REVISIONS) == chain[::-1]
    assert scripts.get_heads() == [migrations.HEAD]
    assert migrations.REVISIONS[-1] == migrations.HEAD
    # One line of history: each revision revises the one before it.
    previous = None
    for revision in migrations.REVISIONS:
        assert scripts.get_revision(revision).down_revision == previous
        previous = revision


def test_migrations_an_empty_workbook_file_is_refused_not_initialised(dd, workbook_path):
    workbook_path.parent.mkdir(parents=True)
    workbook_path.touch()  # SQLite would take it for a new database: its lost data would go unseen

    run = dd("db", "upgrade", "--json")

    assert run.exit_code == 2, run.stderr
    assert "is empty (0 bytes)" in run.stderr
    assert workbook_path.stat().st_size == 0


def test_migrations_a_new_workbook_migrates_to_head(dd, workbook_path):
    run = dd("db", "upgrade", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["from"] is None
    assert run.json()["to"] == migrations.HEAD
    assert revision_of(workbook_path) == migrations.HEAD


# Rows written with plain SQL, as a workbook of that age would hold them.
SEED = [
    "INSERT INTO agency (id, name, timezone, currency, locale, plan, settings, created_at, "
    "updated_at) VALUES ('a1', 'Spice Route Media', 'Asia/Kolkata', 'INR', 'en_IN', 'growth', "
    "'{}', '2026-11-01 09:30:00.000000', '2026-11-01 09:30:00.000000')",
    "INSERT INTO client (id, agency_id, name, report_recipients, currency, "
    "monthly_budget_micros, active, created_at, updated_at) VALUES ('c1', 'a1', "
    "'Masala Mornings', '[\"owner@masala.example\"]', 'INR', 150000500000, 1, "
    "'2026-11-01 09:31:00.000000', '2026-11-01 09:31:00.000000')",
    "INSERT INTO \"user\" (id, email, role, agency_id, created_at) VALUES ('u1', "
    "'priya@spiceroute.example', 'owner', 'a1', '2026-11-01 09:32:00.000000')",
]


def seed_of(revision: str) -> list[str]:
    """SEED as a workbook of that revision holds it: from 0002 a client has conversion_actions."""
    if revision < "0002":
        return SEED
    return [statement.replace("INSERT INTO client (id, ", "INSERT INTO client (conversion_actions, id, ")
            .replace("VALUES ('c1'", "VALUES ('[]', 'c1'") for statement in SEED]


@pytest.mark.parametrize("revision", migrations.REVISIONS)
def test_migrations_a_workbook_from_every_revision_upgrades_to_head_keeping_its_data(
        dd, workbook_path, revision):
    workbook_path.parent.mkdir(parents=True)
    old = sa.create_engine(f"sqlite:///{workbook_path}")
    with old.begin() as connection:
        migrations.upgrade(connection, revision)
        for statement in seed_of(revision):
            connection.exec_driver_sql(statement)
    old.dispose()
    assert revision_of(workbook_path) == revision

    run = dd("db", "upgrade", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["from"] == revision
    assert run.json()["to"] == migrations.HEAD
    agency = dd("agency", "show", "Spice Route Media", "--json").json()
    assert (agency["id"], agency["plan"], agency["timezone"]) == ("a1", "growth", "Asia/Kolkata")
    shown = dd("client", "show", "Masala Mornings", "--json")
    assert shown.exit_code == 0, shown.stderr
    client = shown.json()
    assert client["id"] == "c1"
    assert client["agency"] == "Spice Route Media"
    assert Decimal(str(client["monthly_budget"])) == Decimal("150000.50")
    assert client["report_recipients"] == ["owner@masala.example"]
    assert client["created_at"] == "2026-11-01T09:31:00+00:00"
    users = dd("user", "list", "--json").json()
    assert [(u["email"], u["role"]) for u in users] == [("priya@spiceroute.example", "owner")]


def test_migrations_migrated_schema_equals_the_models_without_drift(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "compare_server_default": True})
        drift = compare_metadata(context, SQLModel.metadata)

    assert drift == []


def test_migrations_create_every_table_of_the_data_model(engine):
    tables = set(sa.inspect(engine).get_table_names())

    assert tables == DATA_MODEL_TABLES | {"alembic_version"}
    assert set(SQLModel.metadata.tables) == DATA_MODEL_TABLES


def _parents(conn: sa.Connection) -> None:
    statements = [
        "INSERT INTO agency (id, name, timezone, currency, locale, plan, settings, created_at, "
        "updated_at) VALUES ('a1', 'Spice Route Media', 'Asia/Kolkata', 'INR', 'en_IN', "
        "'starter', '{}', '2026-11-01 00:00:00', '2026-11-01 00:00:00')",
        "INSERT INTO agency (id, name, timezone, currency, locale, plan, settings, created_at, "
        "updated_at) VALUES ('a2', 'Second Agency', 'Asia/Kolkata', 'INR', 'en_IN', "
        "'starter', '{}', '2026-11-01 00:00:00', '2026-11-01 00:00:00')",
        "INSERT INTO client (id, agency_id, name, report_recipients, currency, active, "
        "conversion_actions, created_at, updated_at) VALUES ('c1', 'a1', 'Masala Mornings', '[]', "
        "'INR', 1, '[]', "
        "'2026-11-01 00:00:00', '2026-11-01 00:00:00')",
        "INSERT INTO ad_account (id, client_id, platform, external_id, name, currency, timezone, "
        "status, created_at) VALUES ('acc1', 'c1', 'meta', 'act_1', '', 'INR', 'Asia/Kolkata', "
        "'active', '2026-11-01 00:00:00')",
        "INSERT INTO entity (id, account_id, level, external_id, name, status, updated_at) "
        "VALUES ('e1', 'acc1', 'campaign', 'c1', 'Diwali', '', '2026-11-01 00:00:00')",
    ]
    for statement in statements:
        conn.exec_driver_sql(statement)


def _agency(id_: str, name: str) -> str:
    return ("INSERT INTO agency (id, name, timezone, currency, locale, plan, settings, "
            "created_at, updated_at) VALUES "
            f"('{id_}', '{name}', 'UTC', 'INR', 'en_IN', 'starter', '{{}}', "
            "'2026-11-01 00:00:00', '2026-11-01 00:00:00')")


def _user(id_: str, email: str) -> str:
    return ("INSERT INTO \"user\" (id, email, role, agency_id, created_at) VALUES "
            f"('{id_}', '{email}', 'member', 'a1', '2026-11-01 00:00:00')")


def _client(id_: str, agency_id: str, name: str) -> str:
    return ("INSERT INTO client (id, agency_id, name, report_recipients, currency, active, "
            f"conversion_actions, created_at, updated_at) VALUES ('{id_}', '{agency_id}', '{name}', "
            "'[]', 'INR', 1, '[]', '2026-11-01 00:00:00', '2026-11-01 00:00:00')")


def _metric(date: str, entity_id: str = "e1", level: str = "campaign") -> str:
    return ("INSERT INTO metric_daily (account_id, level, entity_id, date, spend_micros, "
            "impressions, clicks, conversions_millionths, conversion_value_micros, synced_at) VALUES "
            f"('acc1', '{level}', '{entity_id}', '{date}', 1000000, 10, 1, 500000, 0, "
            "'2026-11-02 00:00:00')")


def _report(id_: str, kind: str, start: str, end: str) -> str:
    return ("INSERT INTO report (id, client_id, kind, period_start, period_end, channel_data, "
            "summary, html, status, recipients, created_at) VALUES "
            f"('{id_}', 'c1', '{kind}', '{start}', '{end}', '{{}}', '', '', 'built', '[]', "
            "'2026-11-02 00:00:00')")


# (constraint, a first row, a row that differs in one key column and is allowed, a duplicate)
UNIQUE = {
    "agency.name": (_agency("x1", "Masala Media"), _agency("x2", "Masala Media 2"),
                    _agency("x3", "Masala Media")),
    "user.email": (_user("u1", "priya@spiceroute.example"), _user("u2", "ravi@spiceroute.example"),
                   _user("u3", "priya@spiceroute.example")),
    "client (agency_id, name)": (_client("k1", "a1", "Chai Point"),
                                 _client("k2", "a2", "Chai Point"),
                                 _client("k3", "a1", "Chai Point")),
    "metric_daily (account_id, level, entity_id, date)": (
        _metric("2026-11-01"), _metric("2026-11-02"), _metric("2026-11-01")),
    "report (client_id, kind, period_start, period_end)": (
        _report("r1", "daily", "2026-11-01", "2026-11-01"),
        _report("r2", "weekly", "2026-11-01", "2026-11-01"),
        _report("r3", "daily", "2026-11-01", "2026-11-01")),
}


@pytest.mark.parametrize("constraint", UNIQUE)
def test_migrations_enforce_the_unique_constraints_of_the_data_model(engine, constraint):
    first, allowed, duplicate = UNIQUE[constraint]
    with engine.begin() as conn:
        _parents(conn)
        conn.exec_driver_sql(first)
        conn.exec_driver_sql(allowed)

    with pytest.raises(sa.exc.IntegrityError, match="UNIQUE"), engine.begin() as conn:
        conn.exec_driver_sql(duplicate)


MONEY_COLUMNS = {("client", "monthly_budget_micros"), ("metric_daily", "spend_micros"),
                 ("metric_daily", "conversion_value_micros"), ("llm_usage", "cost_micros"),
                 ("metric_daily", "all_conversion_value_micros"),
                 ("entity", "daily_budget_micros"),
                 ("entity", "lifetime_budget_micros"), ("metric_breakdown_daily", "spend_micros"),
                 ("metric_breakdown_daily", "conversion_value_micros")}


def test_migrations_money_and_conversions_are_integers_and_nothing_is_a_float(engine):
    named_money = {(table.name, column.name) for table in SQLModel.metadata.tables.values()
                   for column in table.columns if column.name.endswith("_micros")}
    assert named_money == MONEY_COLUMNS
    inspector = sa.inspect(engine)
    floats = set()
    for table in DATA_MODEL_TABLES:
        model = SQLModel.metadata.tables[table]
        for column in inspector.get_columns(table):
            declared = model.columns[column["name"]].type
            if isinstance(declared, sa.Float) or isinstance(column["type"], sa.Float):
                floats.add((table, column["name"]))
            if (table, column["name"]) in MONEY_COLUMNS:
                assert isinstance(declared, sa.BigInteger), (table, column["name"])
                assert isinstance(column["type"], sa.BigInteger), (table, column["name"])
    assert floats == set()
    millionths = {column["name"]: column["type"] for column in inspector.get_columns("metric_daily")}
    assert isinstance(millionths["conversions_millionths"], sa.BigInteger)


def test_migrations_scripts_are_listed_as_package_data():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    data = project["tool"]["setuptools"]["package-data"]

    assert "alembic/*.py" in data["datadrip.db"]
    assert "alembic/versions/*.py" in data["datadrip.db"]
    assert "datadrip.toml.example" in data["datadrip"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the source tree (the build must not write into the repo)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "tests", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"))
    out = root / "out"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(out), str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("datadrip-*.whl")
    return built


def test_migrations_the_wheel_ships_the_migration_scripts_and_the_example_config(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        example = archive.read("datadrip/datadrip.toml.example").decode()

    versions = {f"datadrip/db/alembic/versions/{p.name}"
                for p in (PACKAGE / "db" / "alembic" / "versions").glob("*.py")}
    assert "datadrip/db/alembic/versions/0001_initial_schema.py" in versions
    assert versions <= names
    assert "datadrip/db/alembic/env.py" in names
    assert "datadrip/datadrip.toml.example" in names
    assert example == (PACKAGE / "datadrip.toml.example").read_text()


def test_migrations_the_installed_wheel_creates_and_migrates_a_workbook(wheel, tmp_path, home):
    target = tmp_path / "installed"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                           "--target", str(target), str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import datadrip; print(datadrip.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert where.stdout.strip().startswith(str(target))

    run = subprocess.run([sys.executable, "-m", "datadrip", "init", "--json"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)

    assert run.returncode == 0, run.stderr
    assert (home / "workbook.db").is_file()
    assert revision_of(home / "workbook.db") == migrations.HEAD
    assert (home / "datadrip.toml").read_text() == (PACKAGE / "datadrip.toml.example").read_text()


# Two accounts of one client, each with a campaign and rows on three days, as 0002 held them.
METRICS_AT_0002 = [
    *seed_of("0002"),
    *(f"INSERT INTO ad_account (id, client_id, platform, external_id, name, currency, timezone, "
      f"status, created_at) VALUES ('{account}', 'c1', 'meta', 'act_{n}', 'Account {n}', 'INR', "
      f"'Asia/Kolkata', 'active', '2026-11-01 09:33:00.000000')" for n, account in ((1, "x1"), (2, "x2"))),
    *(f"INSERT INTO entity (id, account_id, level, external_id, name, status, updated_at) VALUES "
      f"('{entity}', '{account}', 'campaign', '{entity}', 'Campaign', 'ACTIVE', "
      f"'2026-11-01 09:34:00.000000')" for account, entity in (("x1", "e1"), ("x2", "e2"))),
    *(f"INSERT INTO metric_daily (account_id, level, entity_id, date, spend_micros, impressions, "
      f"clicks, conversions, conversion_value_micros, reach, synced_at) VALUES ('{account}', "
      f"'campaign', '{entity}', '2026-11-0{day}', {day}123456, {day}000, {day}0, {day}.5, "
      f"{day}500000, NULL, '2026-11-05 06:00:00.000000')"
      for account, entity in (("x1", "e1"), ("x2", "e2")) for day in (1, 2, 3)),
]


def metric_rows(connection: sa.Connection) -> list[tuple]:
    return connection.exec_driver_sql(
        "SELECT account_id, level, entity_id, date, spend_micros, impressions, clicks, conversions, "
        "conversion_value_micros, reach, synced_at FROM metric_daily ORDER BY 1, 3, 4").all()


def downgrade(connection: sa.Connection, revision: str) -> None:
    """Alembic's downgrade to `revision`, inside the caller's transaction (as migrations.upgrade)."""
    from alembic import command

    config = migrations.alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def test_migrations_0003_rekeys_metric_daily_by_day_keeping_every_row_and_back(workbook_path):
    workbook_path.parent.mkdir(parents=True)
    engine = sa.create_engine(f"sqlite:///{workbook_path}")
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0002")
            for statement in METRICS_AT_0002:
                connection.exec_driver_sql(statement)
            before = metric_rows(connection)
        with engine.begin() as connection:
            migrations.upgrade(connection, "0003")
        with engine.begin() as connection:
            assert metric_rows(connection) == before
            table_sql = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'metric_daily'").scalar_one()
            assert "WITHOUT ROWID" in table_sql
            assert "PRIMARY KEY (account_id, level, date, entity_id)" in table_sql
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
            # The account's rows still go with it, and only its rows.
            connection.exec_driver_sql("PRAGMA foreign_keys = ON")
        with engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM ad_account WHERE id = 'x1'")
            assert {row[0] for row in metric_rows(connection)} == {"x2"}
            remaining = metric_rows(connection)
        with engine.begin() as connection:

            downgrade(connection, "0002")
        with engine.begin() as connection:
            assert metric_rows(connection) == remaining
            indexes = {row[1] for row in connection.exec_driver_sql("PRAGMA index_list(metric_daily)")}
            assert {"ix_metric_daily_account_date", "ix_metric_daily_entity_date"} <= indexes
    finally:
        engine.dispose()


def test_migrations_0011_rekeys_insights_so_a_dismissal_holds_across_engines(workbook_path):
    import datetime as dt
    import hashlib
    import json

    from insights.lifecycle_support import cpa_finding, save

    workbook_path.parent.mkdir(parents=True)
    ref = "campaign:120210001001"
    old_fingerprint = hashlib.sha256("\x1f".join(
        ("c1", "performance", "performance.cpa", ref, "worse")).encode()).hexdigest()[:32]
    engine = sa.create_engine(f"sqlite:///{workbook_path}")
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0008")
            for statement in seed_of("0008"):
                connection.exec_driver_sql(statement)
            payload = cpa_finding().payload()
            payload["evidence"] = [{**item, "value": float(item["value"])} for item in payload["evidence"]]
            connection.exec_driver_sql(
                "INSERT INTO insight (id, client_id, type, source, payload, impact_score, status, "
                "created_at, resolved_at, note, fingerprint, window_since, window_until) VALUES ('i1', "
                "'c1', 'performance', 'heuristic', ?, 72, 'dismissed', '2026-11-26 05:00:00.000000', "
                "'2026-11-26 06:00:00.000000', 'Seasonal', ?, '2026-11-19', '2026-11-25')",
                (json.dumps(payload), old_fingerprint))
        with engine.begin() as connection:
            migrations.upgrade(connection, "head")
    finally:
        engine.dispose()
    by_model = cpa_finding(since=dt.date(2026, 11, 20), until=dt.date(2026, 11, 26))
    by_model.rule, by_model.source = "llm", "llm"

    saved = save("Masala Mornings", by_model)

    assert (len(saved.suppressed), len(saved.created)) == (1, 0)
    assert saved.suppressed[0][1].id == "i1"
    engine = sa.create_engine(f"sqlite:///{workbook_path}")
    try:
        with engine.begin() as connection:

            downgrade(connection, "0008")
        with engine.begin() as connection:
            assert connection.exec_driver_sql(
                "SELECT fingerprint FROM insight WHERE id = 'i1'").scalar_one() == old_fingerprint
    finally:
        engine.dispose()


REPORT_AT_0008 = (
    "INSERT INTO report (id, client_id, kind, period_start, period_end, channel_data, summary, html, "
    "status, recipients, created_at) VALUES ('{id}', 'c1', 'daily', '{day}', '{day}', '{{}}', '', '', "
    "'{status}', '[]', '2026-11-02 07:00:00.000000')")


def test_migrations_0009_lets_a_report_be_skipped_and_back(workbook_path):

    workbook_path.parent.mkdir(parents=True)
    engine = sa.create_engine(f"sqlite:///{workbook_path}")
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0008")
            for statement in seed_of("0008"):
                connection.exec_driver_sql(statement)
            connection.exec_driver_sql(REPORT_AT_0008.format(id="r1", day="2026-11-01", status="sent"))
        with engine.begin() as connection, pytest.raises(sa.exc.IntegrityError):
            connection.exec_driver_sql(REPORT_AT_0008.format(id="r2", day="2026-11-02",
                                                             status="skipped"))
        with engine.begin() as connection:
            migrations.upgrade(connection, "0009")
        with engine.begin() as connection:
            connection.exec_driver_sql(REPORT_AT_0008.format(id="r2", day="2026-11-02",
                                                             status="skipped"))
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
        with engine.begin() as connection, pytest.raises(sa.exc.IntegrityError):
            connection.exec_driver_sql(REPORT_AT_0008.format(id="r3", day="2026-11-03",
                                                             status="lost"))
        with engine.begin() as connection:
            downgrade(connection, "0008")
        with engine.begin() as connection:
            assert connection.exec_driver_sql("SELECT id, status FROM report ORDER BY id").all() == \
                [("r1", "sent"), ("r2", "built")]
    finally:
        engine.dispose()


DELIVERY_AT_0008 = (
    "INSERT INTO report_delivery (id, report_id, at, provider, recipients, status, attempts, forced) "
    "VALUES ('{id}', '{report}', '2026-11-02 07:00:01.000000', 'outbox', '[\"owner@masala.example\"]', "
    "'{status}', 1, 0)")


def _foreign_keys_on(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    dbapi_connection.execute("PRAGMA foreign_keys = ON")


def test_migrations_0010_lets_a_report_be_uncertain_keeping_skipped_and_deliveries_and_back(
        workbook_path):
    """With foreign keys on (as DataDrip opens a workbook), both ways: rebuilding the report table
    must not take the deliveries with it."""

    workbook_path.parent.mkdir(parents=True)
    engine = sa.create_engine(f"sqlite:///{workbook_path}")
    sa.event.listen(engine, "connect", _foreign_keys_on)

    def rows(connection: sa.Connection, table: str) -> list[Any]:
        return connection.exec_driver_sql(f"SELECT id, status FROM {table} ORDER BY id").all()

    try:
        with engine.begin() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            migrations.upgrade(connection, "0009")
            for statement in seed_of("0009"):
                connection.exec_driver_sql(statement)
            for report, day, status in (("r1", "2026-11-01", "sent"), ("r2", "2026-11-02", "failed"),
                                        ("r3", "2026-11-03", "skipped")):
                connection.exec_driver_sql(REPORT_AT_0008.format(id=report, day=day, status=status))
            connection.exec_driver_sql(DELIVERY_AT_0008.format(id="d1", report="r1", status="sent"))
            connection.exec_driver_sql(DELIVERY_AT_0008.format(id="d2", report="r2", status="failed"))
        with engine.begin() as connection, pytest.raises(sa.exc.IntegrityError):
            connection.exec_driver_sql("UPDATE report SET status = 'uncertain' WHERE id = 'r2'")
        with engine.begin() as connection:
            migrations.upgrade(connection, "0010")
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE report SET status = 'uncertain' WHERE id = 'r2'")
            connection.exec_driver_sql(REPORT_AT_0008.format(id="r4", day="2026-11-04", status="skipped"))
            assert rows(connection, "report") == [("r1", "sent"), ("r2", "uncertain"), ("r3", "skipped"),
                                                  ("r4", "skipped")]
            assert rows(connection, "report_delivery") == [("d1", "sent"), ("d2", "failed")]
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        with engine.begin() as connection, pytest.raises(sa.exc.IntegrityError):
            connection.exec_driver_sql("UPDATE report SET status = 'maybe' WHERE id = 'r1'")
        with engine.begin() as connection:
            downgrade(connection, "0009")
        with engine.begin() as connection:  # an uncertain send stays one nobody repeats blindly
            assert rows(connection, "report") == [("r1", "sent"), ("r2", "failed"), ("r3", "skipped"),
                                                  ("r4", "skipped")]
            assert rows(connection, "report_delivery") == [("d1", "sent"), ("d2", "failed")]
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        with engine.begin() as connection, pytest.raises(sa.exc.IntegrityError):
            connection.exec_driver_sql("UPDATE report SET status = 'uncertain' WHERE id = 'r2'")
    finally:
        engine.dispose()


@pytest.mark.parametrize("start", ["0008", "0009"])
def test_migrations_0009_and_0010_keep_every_reports_deliveries_when_upgraded_by_datadrip(
        dd, workbook_path, start):
    workbook_path.parent.mkdir(parents=True)
    old = sa.create_engine(f"sqlite:///{workbook_path}")
    with old.begin() as connection:
        migrations.upgrade(connection, start)
        for statement in seed_of(start):
            connection.exec_driver_sql(statement)
        connection.exec_driver_sql(REPORT_AT_0008.format(id="r1a2b3c4", day="2026-11-01", status="sent"))
        connection.exec_driver_sql(DELIVERY_AT_0008.format(id="d1", report="r1a2b3c4", status="sent"))
    old.dispose()

    run = dd("db", "upgrade", "--json")  # as DataDrip opens a workbook: foreign keys on

    assert run.exit_code == 0, run.stderr
    shown = dd("report", "show", "r1a2b3c4", "--json")
    assert shown.exit_code == 0, shown.stderr
    assert [(d["status"], d["recipients"]) for d in shown.json()["deliveries"]] == \
        [("sent", ["owner@masala.example"])]
    with sqlite3.connect(workbook_path) as db:
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_migrations_0012_adds_the_wait_of_a_sync_run_keeping_its_runs_and_back(workbook_path):

    workbook_path.parent.mkdir(parents=True)
    engine = sa.create_engine(f"sqlite:///{workbook_path}")
    run = ("INSERT INTO sync_run (id, account_id, started_at, status, rows, requests, warnings) "
           "VALUES ('r1', 'x1', '2026-12-01 00:00:00.000000', 'succeeded', 12, 3, '[]')")
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0008")
            for statement in seed_of("0008"):
                connection.exec_driver_sql(statement)
            connection.exec_driver_sql(
                "INSERT INTO ad_account (id, client_id, platform, external_id, name, currency, "
                "timezone, status, created_at) VALUES ('x1', 'c1', 'meta', 'act_1', 'Main', 'INR', "
                "'Asia/Kolkata', 'active', '2026-11-01 09:33:00.000000')")
            connection.exec_driver_sql(run)
        with engine.begin() as connection:
            migrations.upgrade(connection, "0012")
        with engine.begin() as connection:
            assert connection.exec_driver_sql("SELECT id, rows, wait FROM sync_run").fetchall() == [
                ("r1", 12, None)]
            connection.exec_driver_sql("UPDATE sync_run SET wait = '{\"seconds\": 300}'")
            downgrade(connection, "0011")
        with engine.begin() as connection:
            assert connection.exec_driver_sql("SELECT id, rows FROM sync_run").fetchall() == [("r1", 12)]
            columns = {row[1] for row in connection.exec_driver_sql("PRAGMA table_info(sync_run)")}
            assert "wait" not in columns
    finally:
        engine.dispose()


# (stored float, millionths after 0013, float after coming back down)
CONVERSIONS_AT_0012 = [(1537.5, 1_537_500_000, 1537.5), (0.333333, 333_333, 0.333333),
                       (0.1 + 0.2, 300_000, 0.3), (2.675, 2_675_000, 2.675), (0.0, 0, 0.0),
                       (40.0, 40_000_000, 40.0)]


def test_migrations_0013_stores_conversions_as_integer_millionths_exactly_and_back(workbook_path):
    workbook_path.parent.mkdir(parents=True)
    engine = sa.create_engine(f"sqlite:///{workbook_path}")
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0012")
            for statement in seed_of("0012"):
                connection.exec_driver_sql(statement)
            connection.exec_driver_sql(
                "INSERT INTO ad_account (id, client_id, platform, external_id, name, currency, "
                "timezone, status, created_at) VALUES ('x1', 'c1', 'google', '2020000001', 'Search', "
                "'INR', 'Asia/Kolkata', 'active', '2026-11-01 09:33:00.000000')")
            for day, (stored, _, _) in enumerate(CONVERSIONS_AT_0012, start=1):
                connection.exec_driver_sql(
                    "INSERT INTO metric_daily (account_id, level, date, entity_id, spend_micros, "
                    "impressions, clicks, conversions, conversion_value_micros, synced_at) VALUES "
                    f"('x1', 'campaign', '2026-11-{day:02}', 'e1', 1000000, 10, 1, ?, 0, "
                    "'2026-11-30 00:00:00')", (stored,))
        with engine.begin() as connection:
            migrations.upgrade(connection, "0013")
        with engine.begin() as connection:
            assert connection.exec_driver_sql(
                "SELECT conversions_millionths FROM metric_daily ORDER BY date").scalars().all() == [
                millionths for _, millionths, _ in CONVERSIONS_AT_0012]
            columns = {row[1] for row in connection.exec_driver_sql("PRAGMA table_info(metric_daily)")}
            assert "conversions" not in columns
            # The views show the same counts, now without float dust in their sums.
            shown = connection.exec_driver_sql(
                "SELECT conversions, conversions_millionths FROM account_daily ORDER BY date").all()
            assert shown == [(down, millionths) for _, millionths, down in CONVERSIONS_AT_0012]
            assert connection.exec_driver_sql(
                "SELECT SUM(conversions_millionths) FROM daily_metrics").scalar_one() == 1_580_808_333
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
            downgrade(connection, "0012")
        with engine.begin() as connection:
            assert connection.exec_driver_sql(
                "SELECT conversions FROM metric_daily ORDER BY date").scalars().all() == [
                down for _, _, down in CONVERSIONS_AT_0012]
            assert connection.exec_driver_sql(
                "SELECT conversions FROM account_daily ORDER BY date").scalars().all() == [
                down for _, _, down in CONVERSIONS_AT_0012]
            columns = {row[1] for row in connection.exec_driver_sql("PRAGMA table_info(metric_daily)")}
            assert "conversions_millionths" not in columns
            view = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'daily_metrics'").scalar_one()
            assert "conversions_millionths" not in view
    finally:
        engine.dispose()


# Accounts of both built-in platforms with what hangs off them: entities (a campaign and its ad
# set), metric rows, a sync run and a cursor, as a workbook at 0013 holds them.
ACCOUNTS_AT_0013 = [
    "INSERT INTO ad_account (id, client_id, platform, external_id, name, currency, timezone, status, "
    "created_at) VALUES ('x1', 'c1', 'meta', 'act_1', 'Main', 'INR', 'Asia/Kolkata', 'active', "
    "'2026-11-01 09:33:00.000000')",
    "INSERT INTO ad_account (id, client_id, platform, external_id, name, currency, timezone, status, "
    "created_at) VALUES ('x2', 'c1', 'google', '2020000001', 'Search', 'INR', 'Asia/Kolkata', "
    "'active', '2026-11-01 09:34:00.000000')",
    "INSERT INTO entity (id, account_id, level, external_id, name, status, updated_at) "
    "VALUES ('e1', 'x1', 'campaign', '120001', 'Diwali', 'ACTIVE', '2026-11-02 00:00:00.000000')",
    "INSERT INTO entity (id, account_id, level, external_id, name, status, parent_id, updated_at) "
    "VALUES ('e2', 'x1', 'adset', '130001', 'Mumbai', 'ACTIVE', 'e1', '2026-11-02 00:00:00.000000')",
    *(f"INSERT INTO metric_daily (account_id, level, entity_id, date, spend_micros, impressions, "
      f"clicks, conversions_millionths, conversion_value_micros, synced_at) VALUES ('{account}', "
      f"'{level}', '{entity}', '2026-11-0{day}', {day}123456, {day}000, {day}0, {day}500000, "
      f"{day}500000, '2026-11-05 06:00:00.000000')"
      for account, level, entity in (("x1", "campaign", "e1"), ("x1", "adset", "e2"),
                                     ("x2", "campaign", "g1")) for day in (1, 2)),
    "INSERT INTO sync_run (id, account_id, started_at, status, rows, requests, warnings) "
    "VALUES ('r1', 'x1', '2026-11-05 06:00:00.000000', 'succeeded', 4, 2, '[]')",
    "INSERT INTO sync_cursor (account_id, level, synced_through, updated_at) "
    "VALUES ('x1', 'campaign', '2026-11-02', '2026-11-05 06:00:00.000000')",
]
TIKTOK_ACCOUNT = (
    "INSERT INTO ad_account (id, client_id, platform, external_id, name, currency, timezone, status, "
    "created_at) VALUES ('x3', 'c1', 'tiktok', '7000001', 'Reels', 'INR', 'Asia/Kolkata', 'active', "
    "'2026-11-01 09:35:00.000000')")


def account_state(connection: sa.Connection) -> dict[str, list[Any]]:
    """Every row that hangs off an account, and what the `datadrip sql` views show of them."""
    queries = {
        "ad_account": "SELECT id, platform, external_id, name FROM ad_account ORDER BY id",
        "entity": "SELECT id, account_id, parent_id, name FROM entity ORDER BY id",
        "metric_daily": "SELECT account_id, level, entity_id, date, spend_micros, "
                        "conversions_millionths FROM metric_daily ORDER BY 1, 2, 4",
        "sync_run": "SELECT id, account_id, rows FROM sync_run ORDER BY id",
        "sync_cursor": "SELECT account_id, level, synced_through FROM sync_cursor ORDER BY 1, 2",
        "views": "SELECT platform, campaign_name, adset_name, date, spend_micros FROM daily_metrics "
                 "ORDER BY 1, 4, 3",
        "account_daily": "SELECT platform, date, spend_micros FROM account_daily ORDER BY 1, 2",
    }
    return {name: [tuple(row) for row in connection.exec_driver_sql(sql).all()]
            for name, sql in queries.items()}


def test_migrations_0014_lets_an_account_be_of_any_platform_keeping_every_row_and_back(workbook_path):
    """With foreign keys on (as DataDrip opens a workbook), both ways: rebuilding ad_account must
    not take its entities, metrics, runs and cursors with it, nor lose the views."""
    workbook_path.parent.mkdir(parents=True)
    engine = sa.create_engine(f"sqlite:///{workbook_path}")
    sa.event.listen(engine, "connect", _foreign_keys_on)
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0013")
            for statement in [*seed_of("0013"), *ACCOUNTS_AT_0013]:
                connection.exec_driver_sql(statement)
            before = account_state(connection)
        assert len(before["metric_daily"]) == 6 and len(before["views"]) == 6
        with engine.begin() as connection, pytest.raises(sa.exc.IntegrityError, match="CHECK"):
            connection.exec_driver_sql(TIKTOK_ACCOUNT)

        with engine.begin() as connection:
            migrations.upgrade(connection, "0014")
        with engine.begin() as connection:
            assert account_state(connection) == before
            connection.exec_driver_sql(TIKTOK_ACCOUNT)
            assert connection.exec_driver_sql(
                "SELECT platform FROM ad_account WHERE id = 'x3'").scalar_one() == "tiktok"
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            views = connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name").scalars().all()
            assert views == ["account_daily", "ad_daily", "adset_daily", "campaign_daily",
                             "daily_metrics"]
            assert connection.exec_driver_sql("SELECT count(*) FROM adset_daily").scalar_one() == 2
        # The table's other checks hold.
        with engine.begin() as connection, pytest.raises(sa.exc.IntegrityError, match="CHECK"):
            connection.exec_driver_sql("UPDATE ad_account SET status = 'gone' WHERE id = 'x1'")

        with engine.begin() as connection, pytest.raises(RuntimeError, match="accounts of tiktok"):
            downgrade(connection, "0013")
        with engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM ad_account WHERE id = 'x3'")
            downgrade(connection, "0013")
        with engine.begin() as connection:
            assert account_state(connection) == before
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        with engine.begin() as connection, pytest.raises(sa.exc.IntegrityError, match="CHECK"):
            connection.exec_driver_sql(TIKTOK_ACCOUNT)
    finally:
        engine.dispose()


ACTION_ROW = ("INSERT INTO metric_action_daily (account_id, level, date, entity_id, action, "
              "count_millionths, value_micros, synced_at) VALUES ('x1', 'campaign', '2026-11-01', "
              "'e1', 'omni_purchase', 3000000, 4500000000, '2026-11-02 00:00:00')")
CHANGE_ROW = ("INSERT INTO entity_change (id, account_id, entity_id, changed_on, field, old_value, "
              "new_value, seen_at) VALUES ('h1', 'x1', 'e1', '2026-11-03', 'daily_budget_micros', "
              "'2000000000', '3000000000', '2026-11-03 06:00:00')")


def test_migrations_0015_keeps_every_row_marks_it_without_actions_and_adds_the_results_tables_and_back(
        workbook_path):
    """Rows synced before results by action keep their single conversions number and are marked
    as having no actions (a report says so; the next sync's window re-reads them); nothing that
    refers to an account is lost either way, with foreign keys on."""
    workbook_path.parent.mkdir(parents=True)
    engine = sa.create_engine(f"sqlite:///{workbook_path}")
    sa.event.listen(engine, "connect", _foreign_keys_on)
    new_tables = {"metric_action_daily", "conversion_action", "metric_breakdown_daily",
                  "entity_change"}
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0014")
            for statement in [*seed_of("0014"), *ACCOUNTS_AT_0013]:
                connection.exec_driver_sql(statement)
            before = account_state(connection)
        assert len(before["metric_daily"]) == 6

        with engine.begin() as connection:
            migrations.upgrade(connection, "0015")
        with engine.begin() as connection:
            assert account_state(connection) == before
            marks = connection.exec_driver_sql(
                "SELECT DISTINCT actions_kept, link_clicks, interactions, results_millionths, "
                "all_conversions_millionths, attribution_setting FROM metric_daily").all()
            assert marks == [(0, None, None, None, None, None)]
            settings = connection.exec_driver_sql(
                "SELECT DISTINCT objective, daily_budget_micros, settings_synced_at "
                "FROM entity").all()
            assert settings == [(None, None, None)]
            assert connection.exec_driver_sql(
                "SELECT key_results, breakdowns FROM client").all() == [(None, None)]
            assert new_tables <= set(sa.inspect(connection).get_table_names())
            for table in new_tables:
                assert connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one() == 0
            connection.exec_driver_sql(ACTION_ROW)
            connection.exec_driver_sql(CHANGE_ROW)
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []

        with engine.begin() as connection:
            downgrade(connection, "0014")
        with engine.begin() as connection:
            assert account_state(connection) == before
            assert not new_tables & set(sa.inspect(connection).get_table_names())
            assert "actions_kept" not in {column["name"] for column in
                                          sa.inspect(connection).get_columns("metric_daily")}
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []

        with engine.begin() as connection:
            migrations.upgrade(connection, "0015")
            connection.exec_driver_sql(ACTION_ROW)
            connection.exec_driver_sql(CHANGE_ROW)
            connection.exec_driver_sql("DELETE FROM ad_account WHERE id = 'x1'")
            for table in ("metric_daily", "metric_action_daily", "entity_change"):
                assert connection.exec_driver_sql(
                    f"SELECT count(*) FROM {table} WHERE account_id = 'x1'").scalar_one() == 0
    finally:
        engine.dispose()


def test_migrations_0017_adds_period_reach_impression_shares_and_agency_breakdowns_and_back(
        workbook_path):
    """Rows already in the workbook keep every number and have no impression share; a period's
    reach goes with its account; going back down leaves the rows as they were."""
    workbook_path.parent.mkdir(parents=True)
    engine = sa.create_engine(f"sqlite:///{workbook_path}")
    sa.event.listen(engine, "connect", _foreign_keys_on)
    reach_row = ("INSERT INTO metric_period_reach (account_id, level, entity_id, date_from, "
                 "date_to, reach, synced_at) VALUES ('x1', 'account', 'x1', '2026-11-01', "
                 "'2026-11-30', 41000, '2026-12-01 00:00:00')")
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0016")
            for statement in [*seed_of("0014"), *ACCOUNTS_AT_0013]:
                connection.exec_driver_sql(statement)
            before = account_state(connection)

        with engine.begin() as connection:
            migrations.upgrade(connection, "0017")
        with engine.begin() as connection:
            assert account_state(connection) == before
            assert connection.exec_driver_sql(
                "SELECT DISTINCT search_impression_share_millionths, "
                "search_budget_lost_share_millionths, search_rank_lost_share_millionths "
                "FROM metric_daily").all() == [(None, None, None)]
            assert {breakdowns for (breakdowns,) in connection.exec_driver_sql(
                "SELECT breakdowns FROM agency")} == {None}
            connection.exec_driver_sql(reach_row)
            with pytest.raises(sa.exc.IntegrityError):
                connection.exec_driver_sql(reach_row.replace("'2026-11-01'", "'2026-12-02'"))

        with engine.begin() as connection:
            downgrade(connection, "0016")
        with engine.begin() as connection:
            assert account_state(connection) == before
            assert "metric_period_reach" not in set(sa.inspect(connection).get_table_names())
            assert "breakdowns" not in {column["name"] for column in
                                        sa.inspect(connection).get_columns("agency")}

        with engine.begin() as connection:
            migrations.upgrade(connection, "0017")
            connection.exec_driver_sql(reach_row)
            connection.exec_driver_sql("DELETE FROM ad_account WHERE id = 'x1'")
            assert connection.exec_driver_sql(
                "SELECT count(*) FROM metric_period_reach").scalar_one() == 0
    finally:
        engine.dispose()


def test_migrations_0018_moves_each_days_actions_into_its_metric_row_and_back(workbook_path):
    """The actions of an entity-day move into metric_daily.actions and read back through the
    view metric_action_daily exactly as the table held them (a NULL value stays NULL; synced_at is
    the metric row's); action_daily
    still answers; going back down restores the table, row for row."""
    workbook_path.parent.mkdir(parents=True)
    engine = sa.create_engine(f"sqlite:///{workbook_path}")
    sa.event.listen(engine, "connect", _foreign_keys_on)
    held = ("SELECT account_id, level, date, entity_id, action, count_millionths, value_micros "
            "FROM metric_action_daily ORDER BY account_id, level, date, entity_id, action")
    try:
        with engine.begin() as connection:
            migrations.upgrade(connection, "0017")
            for statement in [*seed_of("0014"), *ACCOUNTS_AT_0013]:
                connection.exec_driver_sql(statement)
            connection.exec_driver_sql(ACTION_ROW)
            connection.exec_driver_sql(ACTION_ROW.replace("'omni_purchase', 3000000, 4500000000",
                                                          "'lead', 1500000, NULL"))
            before = connection.exec_driver_sql(held).all()
            metrics = account_state(connection)
        assert len(before) == 2

        with engine.begin() as connection:
            migrations.upgrade(connection, "0018")
        with engine.begin() as connection:
            assert connection.exec_driver_sql(held).all() == before
            assert account_state(connection) == metrics
            assert "metric_action_daily" not in set(sa.inspect(connection).get_table_names())
            packed = connection.exec_driver_sql(
                "SELECT actions FROM metric_daily WHERE actions IS NOT NULL").scalars().all()
            assert [json.loads(text) for text in packed] == [
                {"lead": [1_500_000, None], "omni_purchase": [3_000_000, 4_500_000_000]}]
            assert connection.exec_driver_sql(
                "SELECT action, count, value FROM action_daily ORDER BY action").all() == [
                ("lead", 1.5, None), ("omni_purchase", 3.0, 4500.0)]

        with engine.begin() as connection:
            downgrade(connection, "0017")
        with engine.begin() as connection:
            assert connection.exec_driver_sql(held).all() == before
            assert "metric_action_daily" in set(sa.inspect(connection).get_table_names())
            assert "actions" not in {column["name"] for column in
                                     sa.inspect(connection).get_columns("metric_daily")}
            assert connection.exec_driver_sql("SELECT count(*) FROM action_daily").scalar_one() == 2
    finally:
        engine.dispose()
