"""`datadrip db upgrade`: create the workbook if needed and bring its schema up to date."""

from __future__ import annotations

import hashlib
import sqlite3

from support import revision_of

from datadrip.db import migrations


def test_db_upgrade_creates_and_migrates_a_new_workbook(dd, workbook_path):
    run = dd("db", "upgrade")

    assert run.exit_code == 0, run.stderr
    assert revision_of(workbook_path) == migrations.HEAD
    assert f"schema empty → {migrations.HEAD}" in run.stderr
    assert str(workbook_path) in run.stderr
    assert run.stdout == ""


def test_db_upgrade_reports_up_to_date_on_a_current_workbook(dd, workbook_path):
    assert dd("agency", "add", "Spice Route Media").exit_code == 0
    before = hashlib.sha256(workbook_path.read_bytes()).hexdigest()

    run = dd("db", "upgrade")

    assert run.exit_code == 0, run.stderr
    assert "up to date" in run.stderr
    assert f"schema {migrations.HEAD}" in run.stderr
    assert run.stdout == ""
    assert hashlib.sha256(workbook_path.read_bytes()).hexdigest() == before
    assert [a["name"] for a in dd("agency", "list", "--json").json()] == ["Spice Route Media"]


def test_db_upgrade_json_shape(dd, workbook_path):
    first = dd("db", "upgrade", "--json")
    again = dd("db", "upgrade", "--json")

    assert first.exit_code == 0, first.stderr
    assert first.json() == {"workbook": str(workbook_path.resolve()), "from": None,
                            "to": migrations.HEAD}
    assert again.json() == {"workbook": str(workbook_path.resolve()), "from": migrations.HEAD,
                            "to": migrations.HEAD}
    assert first.stderr == again.stderr == ""


def test_db_upgrade_uses_the_configured_workbook_url(dd, tmp_path, monkeypatch, workbook_path):
    target = tmp_path / "team" / "shared.db"
    monkeypatch.setenv("DATADRIP_WORKBOOK_URL", f"sqlite:///{target}")

    run = dd("db", "upgrade", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["workbook"] == str(target)
    assert revision_of(target) == migrations.HEAD
    assert not workbook_path.exists()


def test_db_upgrade_refuses_a_workbook_from_a_newer_datadrip(dd, workbook_path):
    assert dd("db", "upgrade").exit_code == 0
    connection = sqlite3.connect(workbook_path)
    connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.commit()
    connection.close()

    run = dd("db", "upgrade", "--json")

    assert run.exit_code == 2
    assert "newer DataDrip" in run.stderr
    assert run.stdout == ""
    assert revision_of(workbook_path) == "9999"


def test_db_upgrade_with_a_url_of_an_unknown_database_fails_clearly(dd, monkeypatch):
    monkeypatch.setenv("DATADRIP_WORKBOOK_URL", "nosuchdb://user@host/workbook")

    run = dd("db", "upgrade")

    assert run.exit_code == 2
    assert "no database driver" in run.stderr
    assert "Traceback" not in run.stderr


def test_db_without_a_subcommand_shows_help_and_touches_no_workbook(dd, workbook_path):
    run = dd("db")

    assert run.exit_code == 2
    assert "datadrip db upgrade" in run.stdout + run.stderr
    assert not workbook_path.exists()
