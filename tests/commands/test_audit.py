"""`datadrip audit`: every change made to the workbook: who, when, what."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from support import assert_bad_input

ENTRY_KEYS = {"at": str, "actor": str, "action": str, "entity": str, "entity_id": str,
              "details": dict}
ACTOR = "tester@agency.example"


def audit(dd: Callable[..., Any], *args: str) -> list[dict[str, Any]]:
    run = dd("audit", "--json", *args)
    assert run.exit_code == 0, run.stderr
    return list(json.loads(run.stdout, parse_float=Decimal))


def ok(run: Any) -> Any:
    assert run.exit_code == 0, run.stderr
    return run.json() if run.stdout.startswith(("{", "[")) else None


@pytest.fixture
def history(dd) -> dict[str, str]:
    """One add, edit and remove of each kind, in this order; returns the ids."""
    agency = ok(dd("agency", "add", "Spice Route Media", "--json"))
    ok(dd("agency", "edit", "Spice Route Media", "--plan", "growth", "--timezone", "Europe/London"))
    client = ok(dd("client", "add", "Masala Mornings", "--json"))
    ok(dd("client", "edit", "Masala Mornings", "--recipients", "owner@masala.example", "--inactive"))
    user = ok(dd("user", "add", "priya@spiceroute.example", "--role", "owner", "--json"))
    ok(dd("user", "remove", "priya@spiceroute.example"))
    ok(dd("client", "remove", "Masala Mornings"))
    ok(dd("agency", "remove", "Spice Route Media"))
    return {"agency": agency["id"], "client": client["id"], "user": user["id"]}


def test_audit_lists_every_add_edit_and_remove_in_order(dd, history):
    entries = audit(dd)

    assert [(e["action"], e["entity"], e["entity_id"]) for e in entries] == [
        ("agency.add", "agency", history["agency"]),
        ("agency.edit", "agency", history["agency"]),
        ("client.add", "client", history["client"]),
        ("client.edit", "client", history["client"]),
        ("user.add", "user", history["user"]),
        ("user.remove", "user", history["user"]),
        ("client.remove", "client", history["client"]),
        ("agency.remove", "agency", history["agency"]),
    ]


def test_audit_json_entries_have_the_same_keys_the_actor_and_an_iso_utc_time(dd, history):
    started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    entries = audit(dd)

    times = []
    for entry in entries:
        assert set(entry) == set(ENTRY_KEYS)
        for key, kind in ENTRY_KEYS.items():
            assert isinstance(entry[key], kind), (key, entry[key])
        assert entry["actor"] == ACTOR
        at = dt.datetime.fromisoformat(entry["at"])
        assert at.utcoffset() == dt.timedelta(0)
        assert started <= at <= dt.datetime.now(dt.UTC)
        times.append(at)
    assert times == sorted(times)


def test_audit_edit_entries_carry_old_and_new_values_of_the_changed_fields_only(dd, history):
    entries = {e["action"]: e for e in audit(dd)}

    assert entries["agency.edit"]["details"] == {"changes": {
        "timezone": ["Asia/Kolkata", "Europe/London"], "plan": ["starter", "growth"]}}
    assert entries["client.edit"]["details"] == {"changes": {
        "report_recipients": [[], ["owner@masala.example"]], "active": [True, False]}}


def test_audit_add_entries_say_what_was_added(dd, history):
    entries = {e["action"]: e["details"] for e in audit(dd)}

    assert entries["agency.add"]["name"] == "Spice Route Media"
    assert entries["agency.add"]["timezone"] == "Asia/Kolkata"
    assert entries["client.add"]["name"] == "Masala Mornings"
    assert entries["client.add"]["agency"] == "Spice Route Media"
    assert entries["user.add"] == {"email": "priya@spiceroute.example", "role": "owner",
                                   "agency": "Spice Route Media"}
    assert entries["user.remove"] == {"email": "priya@spiceroute.example"}


def test_audit_remove_entries_say_what_went_with_it(dd, give_client_data):
    ok(dd("agency", "add", "Spice Route Media"))
    client = ok(dd("client", "add", "Masala Mornings", "--json"))
    give_client_data(client["id"])
    ok(dd("client", "add", "Chai Corner"))
    ok(dd("user", "add", "priya@spiceroute.example"))

    ok(dd("client", "remove", "Masala Mornings", "--yes"))
    ok(dd("agency", "remove", "Spice Route Media", "--yes"))

    entries = {e["action"]: e["details"] for e in audit(dd)}
    assert entries["client.remove"] == {"name": "Masala Mornings", "removed_with": {
        "ad_accounts": 1, "metric_rows": 1, "reports": 1, "insights": 1}}
    assert entries["agency.remove"] == {"name": "Spice Route Media",
                                        "removed_with": {"clients": 1, "users": 1}}


def test_audit_client_budget_changes_are_money_in_currency_units(dd):
    """DESIGN: in --json, money is a number in currency units, never micros."""
    ok(dd("agency", "add", "Spice Route Media"))
    ok(dd("client", "add", "Masala Mornings"))
    ok(dd("client", "edit", "Masala Mornings", "--monthly-budget", "150000.50"))

    edit = [e for e in audit(dd) if e["action"] == "client.edit"][0]

    changes = edit["details"]["changes"]
    assert not [key for key in changes if key.endswith("_micros")], changes
    assert changes["monthly_budget"] == [None, Decimal("150000.50")]


def test_audit_actor_is_the_configured_email(dd, dd_process):
    ok(dd("agency", "add", "Spice Route Media"))
    run = dd_process("agency", "add", "Pixel Pundits", env={"DATADRIP_USER_EMAIL": "boss@agency.example"})
    assert run.exit_code == 0, run.stderr

    assert [e["actor"] for e in audit(dd)] == [ACTOR, "boss@agency.example"]


def test_audit_records_nothing_for_failed_changes(dd):
    ok(dd("agency", "add", "Spice Route Media"))
    ok(dd("client", "add", "Masala Mornings", "--monthly-budget", "100"))
    before = audit(dd)

    failures = [
        dd("agency", "add", "spice route media"),
        dd("agency", "edit", "Spice Route Media", "--plan", "growth", "--timezone", "Nowhere/Land"),
        dd("client", "add", "Chai Corner", "--currency", "XYZ"),
        dd("client", "edit", "Masala Mornings", "--inactive", "--monthly-budget", "1.001"),
        dd("client", "edit", "Masala Mornings"),
        dd("user", "add", "not-an-email"),
        dd("client", "remove", "Nobody Cafe", "--yes"),
    ]

    assert [run.exit_code for run in failures] == [2] * len(failures)
    assert audit(dd) == before


def test_audit_since_a_span_includes_fresh_entries(dd, history):
    assert len(audit(dd, "--since", "1h")) == 8
    assert len(audit(dd, "--since", "90m")) == 8
    assert len(audit(dd, "--since", "7d")) == 8


def test_audit_since_a_future_date_is_empty(dd, history):
    run = dd("audit", "--since", "2099-01-01", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json() == []


def test_audit_since_a_moment_includes_entries_from_that_moment_on(dd, history):
    entries = audit(dd)
    fourth = dt.datetime.fromisoformat(entries[3]["at"])
    in_kolkata = fourth.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30))).isoformat()

    assert audit(dd, "--since", entries[3]["at"]) == entries[3:]
    assert audit(dd, "--since", in_kolkata) == entries[3:]
    naive_utc = fourth.replace(tzinfo=None).isoformat()
    assert audit(dd, "--since", naive_utc) == entries[3:]


@pytest.mark.parametrize("since", ["garbage", "yesterday", "1y", "-1h", "2026-13-45"])
def test_audit_since_garbage_is_bad_input(dd, history, since):
    assert_bad_input(dd("audit", "--since", since, "--json"), "--since")


def test_audit_limit_keeps_the_newest_entries_in_order(dd, history):
    entries = audit(dd)

    assert audit(dd, "--limit", "2") == entries[-2:]
    assert audit(dd, "--limit", "100") == entries
    assert audit(dd, "--since", "1h", "--limit", "1") == entries[-1:]


@pytest.mark.parametrize("limit", ["0", "-3", "many"])
def test_audit_limit_must_be_a_positive_number(dd, history, limit):
    assert_bad_input(dd("audit", "--limit", limit), "--limit")


def test_audit_piped_is_tab_separated_without_ansi(dd):
    ok(dd("agency", "add", "Spice Route Media"))
    ok(dd("user", "add", "priya@spiceroute.example"))

    run = dd("audit")

    assert run.exit_code == 0, run.stderr
    assert "\x1b" not in run.stdout
    lines = run.stdout.splitlines()
    assert len(lines) == 2
    fields = [line.split("\t") for line in lines]
    assert all(len(f) == 4 for f in fields)
    assert [(f[1], f[2]) for f in fields] == [(ACTOR, "agency.add"), (ACTOR, "user.add")]
    assert fields[1][0].endswith(" UTC")
    assert "email=priya@spiceroute.example" in fields[1][3]


def test_audit_of_a_new_workbook_is_empty(dd):
    empty = dd("audit")
    assert empty.exit_code == 0
    assert empty.stdout == ""
    assert "No changes" in empty.stderr

    run = dd("audit", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json() == []


def test_audit_as_a_process_prints_json_on_stdout_only(dd_process):
    assert dd_process("agency", "add", "Spice Route Media").exit_code == 0

    run = dd_process("audit", "--since", "1h", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""
    assert [(e["actor"], e["action"]) for e in json.loads(run.stdout)] == [(ACTOR, "agency.add")]


def test_audit_since_garbage_as_a_process_exits_2(dd_process):
    run = dd_process("audit", "--since", "garbage")

    assert_bad_input(run, "garbage")
