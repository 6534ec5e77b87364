"""`datadrip init`: the commented config file and the workbook, safe to run twice."""

from __future__ import annotations

from pathlib import Path

from support import revision_of

import datadrip
from datadrip.db import migrations

EXAMPLE = (Path(datadrip.__file__).parent / "datadrip.toml.example").read_text(encoding="utf-8")


def every_file(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_init_writes_the_commented_example_config_and_creates_the_workbook(dd, home,
                                                                          workbook_path):
    run = dd("init")

    assert run.exit_code == 0, run.stderr
    config = home / "datadrip.toml"
    assert config.read_text(encoding="utf-8") == EXAMPLE
    assert "# url = \"\"" in config.read_text(encoding="utf-8")  # the comments are kept
    assert revision_of(workbook_path) == migrations.HEAD
    assert f"Wrote config file {config}" in run.stderr
    assert str(workbook_path) in run.stderr
    assert run.stdout == ""
    # The file it wrote is one DataDrip reads back without complaint.
    shown = dd("config", "show", "--json")
    assert shown.exit_code == 0, shown.stderr
    assert shown.json()["config_file_found"] is True


def test_init_example_is_the_one_documented_in_the_repository():
    documented = Path(__file__).resolve().parents[2] / "datadrip.toml.example"

    assert documented.read_text(encoding="utf-8") == EXAMPLE


def test_init_run_twice_keeps_the_existing_config_file_and_says_so(dd, home, workbook_path):
    assert dd("init").exit_code == 0
    config = home / "datadrip.toml"
    edited = EXAMPLE.replace('# email = ""', 'email = "owner@spiceroute.example"')
    assert edited != EXAMPLE
    config.write_text(edited, encoding="utf-8")
    assert dd("agency", "add", "Spice Route Media").exit_code == 0

    run = dd("init")

    assert run.exit_code == 0, run.stderr
    assert config.read_text(encoding="utf-8") == edited
    assert "Kept the existing config file" in run.stderr
    assert "Wrote" not in run.stderr
    assert revision_of(workbook_path) == migrations.HEAD
    assert [a["name"] for a in dd("agency", "list", "--json").json()] == ["Spice Route Media"]
    assert dd("init", "--json").json()["config_written"] is False
    assert config.read_text(encoding="utf-8") == edited
    assert sorted(p.name for p in home.iterdir() if p.name.startswith(".")) == []


def test_init_with_config_path_creates_that_file(dd, home, tmp_path, workbook_path):
    target = tmp_path / "elsewhere" / "agency.toml"

    run = dd("--config", str(target), "init", "--json")

    assert run.exit_code == 0, run.stderr
    assert target.read_text(encoding="utf-8") == EXAMPLE
    assert run.json()["config_file"] == str(target)
    assert run.json()["config_written"] is True
    assert not (home / "datadrip.toml").exists()
    assert revision_of(workbook_path) == migrations.HEAD
    # Now the file exists, --config names it for every command.
    assert dd("--config", str(target), "agency", "list").exit_code == 0


def test_init_with_datadrip_config_env_creates_that_file(dd, home, tmp_path, monkeypatch):
    target = tmp_path / "from-env.toml"
    monkeypatch.setenv("DATADRIP_CONFIG", str(target))

    run = dd("init")

    assert run.exit_code == 0, run.stderr
    assert target.read_text(encoding="utf-8") == EXAMPLE
    assert not (home / "datadrip.toml").exists()


def test_init_json_shape(dd, home, workbook_path):
    run = dd("init", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json() == {
        "config_file": str(home / "datadrip.toml"),
        "config_written": True,
        "workbook": str(workbook_path.resolve()),
        "schema": migrations.HEAD,
    }
    assert run.stderr == ""


def test_init_config_folder_that_cannot_be_created_fails_clearly_writing_nothing(
        dd, tmp_path, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file, not a folder")
    monkeypatch.setenv("DATADRIP_HOME", str(blocker / "home"))
    before = every_file(tmp_path)

    run = dd("init")

    assert run.exit_code == 2
    assert run.stderr.startswith("error: cannot write ")
    assert str(blocker / "home" / "datadrip.toml") in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""
    assert every_file(tmp_path) == before


def test_init_config_path_under_a_file_fails_clearly_and_creates_no_workbook(
        dd, tmp_path, home, workbook_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file, not a folder")
    target = blocker / "datadrip.toml"

    run = dd("--config", str(target), "init")

    assert run.exit_code == 2
    assert "cannot write" in run.stderr
    assert str(target) in run.stderr
    assert blocker.read_text() == "a regular file, not a folder"
    assert not workbook_path.exists()


def test_init_existing_config_file_with_a_mistake_is_named_and_left_alone(dd, home,
                                                                          workbook_path):
    home.mkdir()
    config = home / "datadrip.toml"
    broken = '[workbook]\nurl = "unterminated\n'
    config.write_text(broken, encoding="utf-8")

    run = dd("init")

    assert run.exit_code == 2
    assert str(config) in run.stderr
    assert "invalid TOML" in run.stderr
    assert config.read_text(encoding="utf-8") == broken
    assert not workbook_path.exists()


def mode_of(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_init_makes_the_home_folder_config_and_workbook_private(dd, home, workbook_path):
    run = dd("init")

    assert run.exit_code == 0, run.stderr
    assert mode_of(home) == 0o700
    assert mode_of(home / "datadrip.toml") == 0o600
    assert mode_of(workbook_path) == 0o600


def test_init_makes_every_missing_folder_private_and_leaves_existing_ones_alone(dd, tmp_path,
                                                                               monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    mine.chmod(0o755)
    monkeypatch.setenv("DATADRIP_HOME", str(mine / "new" / "home"))

    run = dd("init")

    assert run.exit_code == 0, run.stderr
    assert mode_of(mine) == 0o755  # the person's own folder keeps its permissions
    assert mode_of(mine / "new") == mode_of(mine / "new" / "home") == 0o700
    assert mode_of(mine / "new" / "home" / "datadrip.toml") == 0o600


def test_init_in_a_home_folder_made_beforehand_keeps_its_permissions(dd, home):
    home.mkdir()
    home.chmod(0o750)

    run = dd("init")

    assert run.exit_code == 0, run.stderr
    assert mode_of(home) == 0o750
    assert mode_of(home / "datadrip.toml") == 0o600
