"""The outbox provider: .eml files written whole, named from the message, never twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from datadrip.platforms.registry import load_settings
from datadrip.reports.delivery.base import OUTBOX_SENDER, DeliveryError, deliver
from datadrip.reports.delivery.outbox import eml_name, slugify
from datadrip.reports.delivery.providers import Sender, outbox_folder, resolve_sender
from reports.mail_support import PNG, RecordedSleep, open_from_settings, parse, report_email, text_of


def test_outbox_writes_one_parseable_eml_and_no_temporary_file(home: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    message = report_email()

    delivery = deliver(open_from_settings(monkeypatch), message, attempts=3)

    folder = home / "outbox"
    [written] = list(folder.iterdir())
    assert delivery.provider == "outbox" and delivery.attempts == 1
    assert delivery.provider_id == str(written)
    assert written.name == "20261126-093000-owner-masala-example-" + eml_name(message)[-12:]
    parsed = parse(written.read_bytes())
    assert parsed["Message-ID"] == message.message_id
    assert text_of(parsed.get_body(("plain",))) == message.text
    assert [p.get_content() for p in parsed.walk() if p.get_content_type() == "image/png"] == [PNG]


def test_outbox_folder_it_makes_is_private_and_one_made_beforehand_keeps_its_mode(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deliver(open_from_settings(monkeypatch), report_email(), attempts=1)
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    theirs.chmod(0o755)
    deliver(open_from_settings(monkeypatch, outbox_dir=theirs), report_email(), attempts=1)

    assert (home / "outbox").stat().st_mode & 0o777 == 0o700
    assert theirs.stat().st_mode & 0o777 == 0o755
    assert [path.stat().st_mode & 0o777 for path in theirs.iterdir()] == [0o600]


def test_outbox_sending_the_same_message_again_rewrites_its_file(home: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    provider = open_from_settings(monkeypatch)

    first = deliver(provider, report_email(), attempts=1)
    second = deliver(provider, report_email(), attempts=1)
    other = deliver(provider, report_email(message_id="<other.1@spiceroute.example>"), attempts=1)

    assert first.provider_id == second.provider_id != other.provider_id
    assert sorted(path.name for path in (home / "outbox").iterdir()) == sorted(
        Path(str(p)).name for p in {first.provider_id, other.provider_id})


def test_outbox_folder_that_cannot_be_made_is_a_permanent_delivery_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the outbox should go")
    sleep = RecordedSleep()

    with pytest.raises(DeliveryError) as failure:
        deliver(open_from_settings(monkeypatch, outbox_dir=blocker / "outbox"), report_email(),
                attempts=3, sleep=sleep)

    assert failure.value.permanent and failure.value.attempts == 1 and sleep.waits == []
    assert f"cannot write the report e-mail to the outbox {blocker / 'outbox'}" in failure.value.message
    assert "outbox_dir" in (failure.value.hint or "")
    assert failure.value.exit_code == 1


def test_outbox_failed_rename_leaves_no_temporary_file(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    message = report_email()
    folder = tmp_path / "outbox"
    (folder / eml_name(message)).mkdir(parents=True)  # something no file can replace

    with pytest.raises(DeliveryError, match="Is a directory") as failure:
        deliver(open_from_settings(monkeypatch, outbox_dir=folder), message, attempts=2)

    assert failure.value.permanent
    assert [path.name for path in folder.iterdir()] == [eml_name(message)]


def test_outbox_relative_folder_in_the_config_file_is_beside_it(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "agency" / "datadrip.toml"
    config.parent.mkdir()
    config.write_text('[email]\noutbox_dir = "sent-mail"\n')

    assert outbox_folder(load_settings(config)) == tmp_path / "agency" / "sent-mail"
    monkeypatch.setenv("DATADRIP_EMAIL_OUTBOX_DIR", "elsewhere")
    assert outbox_folder(load_settings(config)) == Path("elsewhere")


def test_outbox_needs_no_sender_and_uses_a_reserved_address(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_sender(load_settings()) == Sender(OUTBOX_SENDER, None)
    assert OUTBOX_SENDER == "reports@localhost.invalid"
    monkeypatch.setenv("DATADRIP_EMAIL_FROM", " reports@SpiceRoute.example ")
    monkeypatch.setenv("DATADRIP_EMAIL_REPLY_TO", "priya@spiceroute.example")
    assert resolve_sender(load_settings()) == Sender("reports@spiceroute.example", "priya@spiceroute.example")


@pytest.mark.parametrize(("text", "slug"), [("Owner@Masala.example", "owner-masala-example"),
                                            ("Crème brûlée — ₹ daily!", "creme-brulee-daily"),
                                            ("../../etc/passwd", "etc-passwd"), ("₹₹", ""),
                                            ("x" * 60, "x" * 40)])
def test_slugify_keeps_file_names_plain(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_eml_name_falls_back_to_report_when_nothing_is_left() -> None:
    assert eml_name(report_email(to=("₹@x.example",)))[:24] == "20261126-093000-x-exampl"
    assert eml_name(report_email(to=(), subject="₹"))[:22] == "20261126-093000-report"
