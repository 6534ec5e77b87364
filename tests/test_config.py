"""Configuration: where datadrip.toml is found, what overrides what, and how mistakes are named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import Field

from datadrip.core import config
from datadrip.core.config import CORE_SECRETS, Section, example_text, section_keys, settings_model
from datadrip.core.errors import ConfigError, ExitCode
from datadrip.platforms.registry import load_settings, platforms

PACKAGE_EXAMPLE = Path(__file__).resolve().parents[1] / "datadrip" / "datadrip.toml.example"
ROOT_EXAMPLE = Path(__file__).resolve().parents[1] / "datadrip.toml.example"
_COMMENTED_KEY = re.compile(r"^#\s*([a-z_]+)\s*=\s*(.+)$")
_HEADER = re.compile(r"^\[([a-z_]+)\]\s*$")


def all_secrets() -> dict[str, tuple[str, ...]]:
    """Every known secret: the installed platforms' and core's."""
    return {**{name: names for plugin in platforms() for name, names in plugin.secrets.items()},
            **CORE_SECRETS}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def commented_keys(text: str) -> dict[str, dict[str, str]]:
    """`# key = value` lines of the example, by the `[section]` they sit under."""
    found: dict[str, dict[str, str]] = {}
    section: str | None = None
    for line in text.splitlines():
        if header := _HEADER.match(line.strip()):
            section = header.group(1)
            found.setdefault(section, {})
        elif section is not None and (key := _COMMENTED_KEY.match(line.strip())):
            found[section][key.group(1)] = key.group(2)
    return found


# --- where the file is found, and precedence ---------------------------------------------------

def test_config_defaults_apply_when_no_file_and_no_env(tmp_path: Path) -> None:
    loaded = load_settings(env={"DATADRIP_HOME": str(tmp_path / "home")})

    assert loaded.settings == type(loaded.settings)()
    assert loaded.config_file_found is False
    assert loaded.paths.config_file == tmp_path / "home" / "datadrip.toml"
    assert set(loaded.sources.values()) == {"default"}
    assert loaded.workbook_target == str(tmp_path / "home" / "workbook.db")


def test_config_file_overrides_default(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write(home / "datadrip.toml", '[meta]\napi_version = "v25.0"\n[email]\nsmtp_port = 2525\n')

    loaded = load_settings(env={"DATADRIP_HOME": str(home)})

    assert loaded.config_file_found is True
    assert loaded.settings.meta.api_version == "v25.0"
    assert loaded.settings.email.smtp_port == 2525
    assert loaded.sources["meta.api_version"] == "file"
    assert loaded.sources["email.smtp_port"] == "file"
    assert loaded.sources["meta.graph_url"] == "default"
    assert loaded.settings.meta.graph_url == "https://graph.facebook.com"


def test_config_env_overrides_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write(home / "datadrip.toml", '[meta]\napi_version = "v25.0"\n[email]\nsmtp_port = 2525\n')

    loaded = load_settings(env={"DATADRIP_HOME": str(home),
                                "DATADRIP_META_API_VERSION": "v24.0",
                                "DATADRIP_EMAIL_SMTP_PORT": "1025"})

    assert loaded.settings.meta.api_version == "v24.0"
    assert loaded.settings.email.smtp_port == 1025
    assert loaded.sources["meta.api_version"] == "env"
    assert loaded.sources["email.smtp_port"] == "env"


def test_config_env_sets_keys_with_underscores_in_their_name(tmp_path: Path) -> None:
    loaded = load_settings(env={"DATADRIP_HOME": str(tmp_path),
                                "DATADRIP_GOOGLE_TOKEN_URL": "http://127.0.0.1:9/token",
                                "DATADRIP_AI_BASE_URL": "http://127.0.0.1:11434/v1"})

    assert loaded.settings.google.token_url == "http://127.0.0.1:9/token"
    assert loaded.settings.ai.base_url == "http://127.0.0.1:11434/v1"


def test_config_flag_names_the_file(tmp_path: Path) -> None:
    named = write(tmp_path / "elsewhere" / "team.toml", '[ai]\nmodel = "llama3"\n')
    write(tmp_path / "home" / "datadrip.toml", '[ai]\nmodel = "from-home"\n')
    write(Path.cwd() / "datadrip.toml", '[ai]\nmodel = "from-cwd"\n')

    loaded = load_settings(named, env={"DATADRIP_HOME": str(tmp_path / "home"),
                                       "DATADRIP_CONFIG": str(tmp_path / "home" / "datadrip.toml")})

    assert loaded.paths.config_file == named
    assert loaded.settings.ai.model == "llama3"


def test_config_env_datadrip_config_names_the_file(tmp_path: Path) -> None:
    named = write(tmp_path / "elsewhere" / "team.toml", '[ai]\nmodel = "llama3"\n')
    write(Path.cwd() / "datadrip.toml", '[ai]\nmodel = "from-cwd"\n')

    loaded = load_settings(env={"DATADRIP_HOME": str(tmp_path / "home"),
                                "DATADRIP_CONFIG": str(named)})

    assert loaded.paths.config_file == named
    assert loaded.settings.ai.model == "llama3"


def test_config_file_in_working_folder_beats_the_home_folder(tmp_path: Path) -> None:
    write(tmp_path / "home" / "datadrip.toml", '[ai]\nmodel = "from-home"\n')
    local = write(Path.cwd() / "datadrip.toml", '[ai]\nmodel = "from-cwd"\n')

    loaded = load_settings(env={"DATADRIP_HOME": str(tmp_path / "home")})

    assert loaded.paths.config_file == local
    assert loaded.settings.ai.model == "from-cwd"


def test_config_file_in_datadrip_home_is_used_when_nothing_else_is(tmp_path: Path) -> None:
    in_home = write(tmp_path / "home" / "datadrip.toml", '[ai]\nmodel = "from-home"\n')

    loaded = load_settings(env={"DATADRIP_HOME": str(tmp_path / "home")})

    assert loaded.paths.config_file == in_home
    assert loaded.settings.ai.model == "from-home"
    assert loaded.paths.data_dir == tmp_path / "home"


def test_config_cli_flag_is_used_by_commands(dd, tmp_path: Path) -> None:
    named = write(tmp_path / "team.toml", '[meta]\napi_version = "v25.0"\n')

    run = dd("--config", str(named), "config", "show", "--json")

    assert run.exit_code == 0, run.stderr
    shown = run.json()
    assert shown["config_file"] == str(named)
    assert shown["config_file_found"] is True
    assert shown["settings"]["meta.api_version"] == {"value": "v25.0", "source": "file"}


# --- a named file that is missing ------------------------------------------------------------

def test_config_named_file_missing_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"

    with pytest.raises(ConfigError) as raised:
        load_settings(missing, env={"DATADRIP_HOME": str(tmp_path)})

    assert str(missing) in raised.value.message
    assert "does not exist" in raised.value.message
    assert raised.value.exit_code == ExitCode.BAD_INPUT


def test_config_flag_missing_file_exits_2_with_one_error_line(dd, tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"

    run = dd("--config", str(missing), "client", "list")

    assert run.exit_code == 2
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert lines[0] == f"error: config file {missing} does not exist"
    assert "Traceback" not in run.stderr


def test_config_env_datadrip_config_missing_file_exits_2(dd, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope.toml"
    monkeypatch.setenv("DATADRIP_CONFIG", str(missing))

    run = dd("client", "list")

    assert run.exit_code == 2
    assert f"error: config file {missing} does not exist" in run.stderr


def test_config_missing_file_in_usual_places_is_not_an_error(tmp_path: Path) -> None:
    loaded = load_settings(env={"DATADRIP_HOME": str(tmp_path / "empty")})

    assert loaded.config_file_found is False


# --- mistakes in the file ----------------------------------------------------------------------

def test_config_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", '[meta]\napi_version = "v25.0"\ngraph_url = \n')

    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={"DATADRIP_HOME": str(tmp_path)})

    assert str(path) in raised.value.message
    assert "invalid TOML" in raised.value.message
    assert "line 3" in raised.value.message


def test_config_invalid_toml_exits_2_through_the_cli(dd, tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", "[meta\n")

    run = dd("--config", str(path), "client", "list")

    assert run.exit_code == 2
    assert run.stderr.startswith(f"error: {path}: invalid TOML")
    assert "line 1" in run.stderr.splitlines()[0]


def test_config_unknown_section_names_file_line_and_section(dd, tmp_path: Path) -> None:
    path = write(tmp_path / "team.toml", '[meta]\napi_version = "v25.0"\n\n[facebook]\nx = 1\n')

    run = dd("--config", str(path), "client", "list")

    assert run.exit_code == 2
    assert run.stdout == ""
    first = run.stderr.splitlines()[0]
    assert first == f"error: {path}:4: unknown section [facebook]"
    assert ("Hint: Known sections: workbook, user, google, meta, email, reports, ai, auth, secrets, "
            "sync, schedule, sql. A platform's section needs its plug-in: see 'datadrip platform "
            "list'.") in run.stderr


def test_config_unknown_key_names_file_line_and_key(dd, tmp_path: Path) -> None:
    path = write(tmp_path / "team.toml",
                 '[meta]\napi_version = "v25.0"\n\n[email]\nsmtp_host = "mail"\nsmtp_prot = 25\n')

    run = dd("--config", str(path), "client", "list")

    assert run.exit_code == 2
    first = run.stderr.splitlines()[0]
    assert first == f"error: {path}:6: unknown key 'smtp_prot' in [email]"
    assert "smtp_port" in run.stderr  # the hint lists the known keys


def test_config_unknown_key_in_dotted_form_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "team.toml", '# team settings\nmeta.api_verison = "v25.0"\n')

    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={"DATADRIP_HOME": str(tmp_path)})

    assert raised.value.message == f"{path}:2: unknown key 'api_verison' in [meta]"


def test_config_section_that_is_not_a_table_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "team.toml", 'meta = "v25.0"\n')

    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={"DATADRIP_HOME": str(tmp_path)})

    assert str(path) in raised.value.message
    assert "[meta] table" in raised.value.message


def test_config_wrong_type_names_file_line_and_key(dd, tmp_path: Path) -> None:
    path = write(tmp_path / "team.toml", '[email]\nsmtp_host = "mail"\nsmtp_port = "abc"\n')

    run = dd("--config", str(path), "client", "list")

    assert run.exit_code == 2
    first = run.stderr.splitlines()[0]
    assert first.startswith(f"error: {path}:3: [email] smtp_port")
    assert "integer" in first


def test_config_out_of_range_port_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path / "team.toml", "[email]\nsmtp_port = 70000\n")

    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={"DATADRIP_HOME": str(tmp_path)})

    assert raised.value.message.startswith(f"{path}:2: [email] smtp_port")


def test_config_secret_in_file_is_refused_with_env_hint(dd, tmp_path: Path) -> None:
    path = write(tmp_path / "team.toml",
                 '[meta]\napi_version = "v25.0"\napp_secret = "s3cr3t-in-file"\n')

    run = dd("--config", str(path), "client", "list")

    assert run.exit_code == 2
    first = run.stderr.splitlines()[0]
    assert first.startswith(f"error: {path}:3: [meta] app_secret is a secret")
    assert "Hint: Set DATADRIP_META_APP_SECRET instead." in run.stderr
    assert "s3cr3t-in-file" not in run.stderr


@pytest.mark.parametrize("secret", sorted(all_secrets()))
def test_config_every_secret_is_refused_in_the_file(tmp_path: Path, secret: str) -> None:
    section, key = secret.split(".")
    path = write(tmp_path / "team.toml", f'[{section}]\n{key} = "x"\n')

    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={"DATADRIP_HOME": str(tmp_path)})

    assert raised.value.message.startswith(f"{path}:2: [{section}] {key} is a secret")
    assert raised.value.hint is not None
    assert all_secrets()[secret][0] in raised.value.hint


def test_config_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "team.toml"
    path.write_bytes(b'[ai]\nmodel = "\xff\xfe"\n')

    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={"DATADRIP_HOME": str(tmp_path)})

    assert str(path) in raised.value.message


# --- mistakes in the environment ---------------------------------------------------------------

def test_config_env_bad_int_names_the_variable(dd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_EMAIL_SMTP_PORT", "abc")

    run = dd("client", "list")

    assert run.exit_code == 2
    assert run.stderr.splitlines()[0] == \
        "error: DATADRIP_EMAIL_SMTP_PORT must be a whole number, not 'abc'"


def test_config_env_out_of_range_int_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(env={"DATADRIP_HOME": str(tmp_path), "DATADRIP_EMAIL_SMTP_PORT": "0"})

    assert raised.value.message.startswith("DATADRIP_EMAIL_SMTP_PORT: [email] smtp_port")


def test_config_env_unknown_key_in_known_section_names_the_variable(
        dd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_META_GRAPH_URI", "http://127.0.0.1:1")

    run = dd("client", "list")

    assert run.exit_code == 2
    first = run.stderr.splitlines()[0]
    assert first.startswith("error: DATADRIP_META_GRAPH_URI names no setting")
    assert "graph_url" in run.stderr


def test_config_env_unrelated_datadrip_variables_are_ignored(tmp_path: Path) -> None:
    loaded = load_settings(env={"DATADRIP_HOME": str(tmp_path),
                                "DATADRIP_TEST_POSTGRES_URL": "postgresql://x@y/z",
                                "DATADRIP_TEST_ANYTHING": "1",
                                "DATADRIP_DEBUG": "1",
                                "DATADRIP_CONFIG": ""})

    assert loaded.settings == type(loaded.settings)()
    assert set(loaded.sources.values()) == {"default"}


def test_config_env_secrets_are_not_settings(tmp_path: Path) -> None:
    loaded = load_settings(env={"DATADRIP_HOME": str(tmp_path),
                                "DATADRIP_META_APP_SECRET": "s3cr3t",
                                "DATADRIP_AI_API_KEY": "sk-1"})

    assert loaded.settings == type(loaded.settings)()
    assert loaded.secrets["meta.app_secret"] == "env DATADRIP_META_APP_SECRET"
    assert loaded.secrets["ai.api_key"] == "env DATADRIP_AI_API_KEY"
    assert loaded.secrets["google.client_secret"] is None


# --- the workbook URL --------------------------------------------------------------------------

def test_config_relative_workbook_in_file_is_read_from_the_file_folder(tmp_path: Path) -> None:
    path = write(tmp_path / "team" / "datadrip.toml", '[workbook]\nurl = "data/shared.db"\n')

    loaded = load_settings(path, env={"DATADRIP_HOME": str(tmp_path / "home")})

    assert loaded.workbook_target == str(tmp_path / "team" / "data" / "shared.db")


def test_config_relative_workbook_from_env_is_read_from_the_working_folder(
        tmp_path: Path) -> None:
    loaded = load_settings(env={"DATADRIP_HOME": str(tmp_path / "home"),
                                "DATADRIP_WORKBOOK_URL": "shared.db"})

    assert loaded.workbook_target == "shared.db"


def test_config_workbook_sqlalchemy_url_is_kept_as_is(tmp_path: Path) -> None:
    url = "postgresql+psycopg://alice@db.example/datadrip"
    path = write(tmp_path / "datadrip.toml", f'[workbook]\nurl = "{url}"\n')

    loaded = load_settings(path, env={"DATADRIP_HOME": str(tmp_path)})

    assert loaded.workbook_target == url


def test_config_relative_workbook_is_where_the_cli_writes(dd, tmp_path: Path) -> None:
    path = write(tmp_path / "team" / "datadrip.toml", '[workbook]\nurl = "shared.db"\n')

    run = dd("--config", str(path), "agency", "add", "Spice Route Media", "--json")

    assert run.exit_code == 0, run.stderr
    assert (tmp_path / "team" / "shared.db").is_file()
    assert not (Path.cwd() / "shared.db").exists()


# --- the example file --------------------------------------------------------------------------

def test_config_example_documents_every_key_under_its_section(tmp_path: Path) -> None:
    documented = commented_keys(PACKAGE_EXAMPLE.read_text(encoding="utf-8"))

    sections = load_settings(env={"DATADRIP_HOME": str(tmp_path)}).sections
    assert {plugin.name for plugin in platforms()} <= set(sections)
    expected = {section: set(section_keys(model)) for section, model in sections.items()}
    assert {section: set(keys) for section, keys in documented.items()} == expected


def test_config_example_uncommented_loads_to_exactly_the_defaults(tmp_path: Path) -> None:
    documented = commented_keys(PACKAGE_EXAMPLE.read_text(encoding="utf-8"))
    text = "".join(f"[{section}]\n" + "".join(f"{key} = {value}\n" for key, value in keys.items())
                   for section, keys in documented.items())
    path = write(tmp_path / "uncommented.toml", text)

    loaded = load_settings(path, env={"DATADRIP_HOME": str(tmp_path)})

    assert loaded.settings == type(loaded.settings)()
    assert set(loaded.sources.values()) == {"file"}


def test_config_example_as_shipped_loads_to_the_defaults(tmp_path: Path) -> None:
    path = write(tmp_path / "datadrip.toml", example_text())

    loaded = load_settings(path, env={"DATADRIP_HOME": str(tmp_path)})

    assert loaded.settings == type(loaded.settings)()


def test_config_example_mentions_every_secret_variable() -> None:
    text = PACKAGE_EXAMPLE.read_text(encoding="utf-8")

    for names in all_secrets().values():
        for name in names:
            assert name in text


def test_config_example_at_repo_root_is_the_package_file() -> None:
    assert ROOT_EXAMPLE.read_bytes() == PACKAGE_EXAMPLE.read_bytes()
    assert example_text() == PACKAGE_EXAMPLE.read_text(encoding="utf-8")


def test_config_works_from_a_deleted_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()

    loaded = load_settings(env={"DATADRIP_HOME": str(tmp_path / "home")})

    assert loaded.paths.config_file == tmp_path / "home" / "datadrip.toml"


# --- core knows no platform: the plug-ins bring their sections and secrets ---------------------

class _TiktokSettings(Section):
    api_url: str = "https://business-api.tiktok.com"
    lookback_days: int = Field(7, ge=0)


def test_config_core_alone_knows_no_platform_section(tmp_path: Path) -> None:
    path = write(tmp_path / "team.toml", '[ai]\nmodel = "llama3"\n\n[meta]\napi_version = "v25.0"\n')

    with pytest.raises(ConfigError) as raised:
        config.load_settings(path, env={"DATADRIP_HOME": str(tmp_path)})

    assert raised.value.message == f"{path}:4: unknown section [meta]"
    assert raised.value.hint is not None
    assert "'datadrip platform list'" in raised.value.hint
    assert "meta" not in config.load_settings(env={"DATADRIP_HOME": str(tmp_path)}).sections


def test_config_extra_sections_and_secrets_load_like_core_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "team.toml", '[tiktok]\nlookback_days = 3\n')
    extra = {"sections": {"tiktok": _TiktokSettings},
             "secrets": {"tiktok.app_secret": ("DATADRIP_TIKTOK_APP_SECRET",)}}

    loaded = config.load_settings(path, env={"DATADRIP_HOME": str(tmp_path),
                                             "DATADRIP_TIKTOK_API_URL": "http://127.0.0.1:9",
                                             "DATADRIP_TIKTOK_APP_SECRET": "s3cr3t"}, **extra)

    assert loaded.settings.tiktok.lookback_days == 3
    assert loaded.settings.tiktok.api_url == "http://127.0.0.1:9"
    assert loaded.sources["tiktok.lookback_days"] == "file"
    assert loaded.sources["tiktok.api_url"] == "env"
    assert loaded.secrets["tiktok.app_secret"] == "env DATADRIP_TIKTOK_APP_SECRET"
    assert list(loaded.sections)[:3] == ["workbook", "user", "tiktok"]
    assert list(loaded.secret_env)[0] == "tiktok.app_secret"
    assert set(CORE_SECRETS) < set(loaded.secret_env)

    write(path, '[tiktok]\napp_secret = "in-the-file"\n')
    with pytest.raises(ConfigError) as raised:
        config.load_settings(path, env={"DATADRIP_HOME": str(tmp_path)}, **extra)
    assert raised.value.message.startswith(f"{path}:2: [tiktok] app_secret is a secret")
    assert "in-the-file" not in raised.value.message

    write(path, '[tiktok]\nlookback_days = -1\n')
    with pytest.raises(ConfigError) as raised:
        config.load_settings(path, env={"DATADRIP_HOME": str(tmp_path)}, **extra)
    assert raised.value.message.startswith(f"{path}:2: [tiktok] lookback_days:")


def test_config_settings_model_is_built_once_per_set_of_sections() -> None:
    model = settings_model((("tiktok", _TiktokSettings),))

    assert settings_model((("tiktok", _TiktokSettings),)) is model
    assert model().tiktok == _TiktokSettings()
    assert model().sync.concurrency == 4
    assert settings_model(()) is config.Settings


def test_config_platform_section_may_not_take_a_core_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        config.load_settings(env={"DATADRIP_HOME": str(tmp_path)}, sections={"sync": _TiktokSettings})

    assert "[sync]" in raised.value.message
    assert raised.value.exit_code == ExitCode.BAD_INPUT
