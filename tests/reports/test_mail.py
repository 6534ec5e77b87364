"""The report e-mail in MIME: its structure, its headers, and names that try to break them."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from datadrip.core.errors import UsageError
from datadrip.reports.delivery.mail import (
    InlineImage,
    build_mime,
    check_message,
    new_message_id,
    one_line,
)
from reports.mail_support import PNG, WHEN, parse, report_email, text_of


def test_build_mime_structure_is_text_then_related_html_with_inline_images() -> None:
    message = report_email(images=(InlineImage("trend@datadrip", "trend.png", PNG),
                                   InlineImage("bars@datadrip", "bars.png", PNG)))

    parsed = parse(build_mime(message).as_bytes())

    assert parsed.get_content_type() == "multipart/alternative"
    plain, related = parsed.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert text_of(plain) == message.text
    assert related.get_content_type() == "multipart/related"
    html, *images = related.get_payload()
    assert html.get_content_type() == "text/html"
    assert 'src="cid:trend@datadrip"' in html.get_content()
    assert [(i.get_content_type(), i["Content-ID"], i.get_content_disposition(), i.get_filename())
            for i in images] == [("image/png", "<trend@datadrip>", "inline", "trend.png"),
                                 ("image/png", "<bars@datadrip>", "inline", "bars.png")]
    assert images[0].get_content() == PNG


def test_build_mime_headers_name_sender_recipients_and_identity() -> None:
    message = report_email()

    parsed = parse(build_mime(message).as_bytes())

    assert parsed["From"] == "Spice Route Media <reports@spiceroute.example>"
    assert parsed["To"] == "owner@masala.example, ops@masala.example"
    assert parsed["Reply-To"] == "priya@spiceroute.example"
    assert parsed["Subject"] == message.subject
    assert parsed["Date"].datetime == WHEN
    assert parsed["Message-ID"] == message.message_id
    assert parsed["MIME-Version"] == "1.0"
    assert [part["MIME-Version"] for part in parsed.walk()][1:] == [None] * 4


def test_build_mime_without_reply_to_has_no_reply_to_header() -> None:
    parsed = parse(build_mime(report_email(reply_to=None)).as_bytes())

    assert "Reply-To" not in parsed


def test_build_mime_non_ascii_names_are_rfc2047_encoded_and_decode_back() -> None:
    message = report_email(sender_name="मसाला Média “Route”", subject="Rapport quotidien — ₹ et é")

    raw = build_mime(message).as_bytes()

    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"=?utf-8?" in head
    parsed = parse(raw)
    assert parsed["Subject"] == "Rapport quotidien — ₹ et é"
    assert parsed["From"].addresses[0].display_name == "मसाला Média “Route”"
    assert parsed["From"].addresses[0].addr_spec == "reports@spiceroute.example"


def test_build_mime_client_name_with_line_breaks_injects_no_header() -> None:
    message = report_email(subject="Masala\r\nBcc: evil@x.example\r\n\r\nbody",
                           sender_name="Spice\nBcc: evil@x.example\u2028X-Evil: 1")

    raw = build_mime(message).as_bytes()

    parsed = parse(raw)
    assert "Bcc" not in parsed and "X-Evil" not in parsed
    assert len(parsed.get_all("Subject")) == 1
    assert parsed["Subject"] == "Masala Bcc: evil@x.example body"
    assert parsed["From"].addresses[0].display_name == "Spice Bcc: evil@x.example X-Evil: 1"
    assert not re.search(rb"^(Bcc|X-Evil):", raw, re.MULTILINE | re.IGNORECASE)


def test_build_mime_quotes_and_commas_in_the_agency_name_survive() -> None:
    parsed = parse(build_mime(report_email(sender_name='Spice "Route", Media; Ltd.')).as_bytes())

    assert parsed["From"].addresses[0].display_name == 'Spice "Route", Media; Ltd.'
    assert len(parsed["From"].addresses) == 1


def test_build_mime_body_stays_7bit_with_short_lines() -> None:
    long_html = "<p>" + "x" * 5000 + " ₹</p>"

    raw = build_mime(report_email(html=long_html, text="₹ " * 2000)).as_bytes()

    assert raw.isascii()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    assert text_of(parse(raw).get_body(("html",))) == long_html + "\n"


def test_build_mime_lists_a_repeated_recipient_once() -> None:
    parsed = parse(build_mime(report_email(to=("a@x.example", "A@X.example", "b@x.example"))).as_bytes())

    assert parsed["To"] == "a@x.example, b@x.example"


def test_new_message_id_is_fresh_and_in_the_senders_domain() -> None:
    first, second = new_message_id("reports@SpiceRoute.example"), new_message_id("reports@spiceroute.example")

    assert first != second
    assert re.fullmatch(r"<[0-9]{14}\.[0-9a-f]{24}@spiceroute\.example>", first)
    assert new_message_id("not an address").endswith("@datadrip.invalid>")


def test_check_message_refuses_a_naive_date_and_an_empty_recipient_list() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_message(report_email(date=dt.datetime(2026, 11, 26, 9, 30)))
    with pytest.raises(UsageError, match="no recipient"):
        check_message(report_email(to=()))
    with pytest.raises(ValueError, match="message_id"):
        check_message(report_email(message_id="no-brackets@x.example"))
    with pytest.raises(ValueError, match="content ids"):
        check_message(report_email(images=(InlineImage("<trend>", "t.png", PNG),)))


def test_one_line_collapses_every_kind_of_line_break() -> None:
    assert one_line(" a\r\n\tb\x85c\u2028d\u2029e\x00f ") == "a b c d e f"
