"""`datadrip config show`: every setting, its value and its source; secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from datadrip.core.config import section_keys
from datadrip.platforms.registry import load_settings

SECRET_VALUE = "s3cr3t-value-123"
API_KEY = "sk-test-abc"
PG_PASSWORD = "hunter2-pg-pass"
PG_URL = f"postgresql+psycopg://alice:{PG_PASSWORD}@db.example:5432/datadrip"


def all_keys() -> list[str]:
    return [f"{section}.{key}" for section, model in load_settings().sections.items()
            for key in section_keys(model)]


def test_config_show_json_top_level_keys(dd) -> None:
    run = dd("config", "show", "--json")

    assert run.exit_code == 0, run.stderr
    assert list(run.json()) == ["config_file", "config_file_found", "data_dir", "workbook",
                                "settings", "secrets"]


def test_config_show_json_setting_and_secret_shape(dd) -> None:
    shown = dd("config", "show", "--json").json()

    assert list(shown["settings"]) == all_keys()
    assert shown["settings"]["meta.graph_url"] == {"value": "https://graph.facebook.com",
                                                   "source": "default"}
    assert all(set(item) == {"value", "source"} for item in shown["settings"].values())
    assert list(shown["secrets"]) == list(load_settings().secret_env)
    assert shown["secrets"]["meta.app_secret"] == {"set": False, "source": None}


def test_config_show_json_prints_only_json_on_stdout(dd) -> None:
    run = dd("config", "show", "--json")

    assert run.stdout.lstrip().startswith("{")
    assert run.stdout.rstrip().endswith("}")
    assert run.stderr == ""


def test_config_show_json_paths_follow_datadrip_home(dd, home: Path) -> None:
    shown = dd("config", "show", "--json").json()

    assert shown["config_file"] == str(home / "datadrip.toml")
    assert shown["config_file_found"] is False
    assert shown["data_dir"] == str(home)
    assert shown["workbook"] == str(home / "workbook.db")


def test_config_show_sources_say_default_file_and_env(dd, home: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "datadrip.toml").write_text(
        '[meta]\napi_version = "v25.0"\ngraph_url = "http://127.0.0.1:8001"\n', encoding="utf-8")
    monkeypatch.setenv("DATADRIP_META_API_VERSION", "v24.0")

    shown = dd("config", "show", "--json").json()

    settings = shown["settings"]
    assert shown["config_file_found"] is True
    assert settings["meta.api_version"] == {"value": "v24.0", "source": "env"}
    assert settings["meta.graph_url"] == {"value": "http://127.0.0.1:8001", "source": "file"}
    assert settings["meta.dialog_url"] == {"value": "https://www.facebook.com",
                                           "source": "default"}
    assert settings["email.smtp_port"] == {"value": 587, "source": "default"}
    assert settings["user.email"] == {"value": "tester@agency.example", "source": "env"}


def test_config_show_table_lists_every_setting_with_source(dd, monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setenv("DATADRIP_AI_MODEL", "llama3")

    run = dd("config", "show")

    assert run.exit_code == 0, run.stderr
    rows = [line.split("\t") for line in run.stdout.splitlines()]
    by_key = {row[0]: row[1:] for row in rows}
    expected = all_keys()
    assert list(by_key)[:len(expected)] == expected
    assert by_key["ai.model"] == ["llama3", "env"]
    assert by_key["email.smtp_port"] == ["587", "default"]
    assert by_key["meta.app_secret"] == ["(not set)", "secret"]
    assert "Config file:" in run.stderr
    assert "(not found: defaults in use)" in run.stderr


def test_config_show_table_never_shows_secret_values(dd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_META_APP_SECRET", SECRET_VALUE)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)

    run = dd("config", "show")

    assert run.exit_code == 0, run.stderr
    for text in (run.stdout, run.stderr):
        assert SECRET_VALUE not in text
        assert API_KEY not in text
    by_key = {row[0]: row[1:] for row in (line.split("\t") for line in run.stdout.splitlines())}
    assert by_key["meta.app_secret"] == ["[redacted]", "env DATADRIP_META_APP_SECRET"]
    assert by_key["ai.api_key"] == ["[redacted]", "env OPENAI_API_KEY"]


def test_config_show_json_never_shows_secret_values(dd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_META_APP_SECRET", SECRET_VALUE)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)

    run = dd("config", "show", "--json")

    assert run.exit_code == 0, run.stderr
    for text in (run.stdout, run.stderr):
        assert SECRET_VALUE not in text
        assert API_KEY not in text
    secrets = run.json()["secrets"]
    assert secrets["meta.app_secret"] == {"set": True, "source": "env DATADRIP_META_APP_SECRET"}
    assert secrets["ai.api_key"] == {"set": True, "source": "env OPENAI_API_KEY"}
    assert secrets["google.developer_token"] == {"set": False, "source": None}


def test_config_show_datadrip_api_key_wins_over_openai_api_key(
        dd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_AI_API_KEY", "sk-datadrip-1")
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)

    run = dd("config", "show", "--json")

    assert run.json()["secrets"]["ai.api_key"] == {"set": True,
                                                   "source": "env DATADRIP_AI_API_KEY"}
    assert "sk-datadrip-1" not in run.stdout


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "table"])
def test_config_show_hides_the_workbook_password(dd, monkeypatch: pytest.MonkeyPatch,
                                                 as_json: bool) -> None:
    monkeypatch.setenv("DATADRIP_WORKBOOK_URL", PG_URL)

    run = dd("config", "show", *(["--json"] if as_json else []))

    assert run.exit_code == 0, run.stderr
    assert PG_PASSWORD not in run.stdout
    assert PG_PASSWORD not in run.stderr
    redacted = "postgresql+psycopg://alice:***@db.example:5432/datadrip"
    if as_json:
        shown = run.json()
        assert shown["settings"]["workbook.url"] == {"value": redacted, "source": "env"}
        assert shown["workbook"] == redacted
    else:
        assert f"workbook.url\t{redacted}\tenv" in run.stdout.splitlines()
        assert f"Workbook:    {redacted}" in run.stderr


def test_config_show_keeps_a_workbook_url_without_password(dd,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://alice@db.example/datadrip"
    monkeypatch.setenv("DATADRIP_WORKBOOK_URL", url)

    shown = dd("config", "show", "--json").json()

    assert shown["settings"]["workbook.url"]["value"] == url
    assert shown["workbook"] == url


def test_config_show_bad_config_exits_2(dd, home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "datadrip.toml").write_text("[ai]\nmodle = 'x'\n", encoding="utf-8")

    run = dd("config", "show", "--json")

    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr.startswith(f"error: {home / 'datadrip.toml'}:2: unknown key 'modle' in [ai]")

