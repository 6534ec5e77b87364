"""One identity per finding across both engines, closed ones kept closed until their facts change,
and contradicting budget suggestions resolved to one: on a workbook synced from a sandbox whose
clock is pinned, generated for pinned days (never the real date)."""

from __future__ import annotations

import datetime as dt

import pytest

from insights.generate_support import chat_requests, demo_copy, pinned_workbook, point_at_model

SYNCED_TO = dt.date(2026, 11, 26)  # the sandbox's today: its stories end on this day
DAY_1 = dt.datetime(2026, 11, 27, 6, tzinfo=dt.UTC)  # 11:30 in Kolkata: data to 26 Nov
DAY_2 = DAY_1 + dt.timedelta(days=1)  # no new sync: the same facts, one day later
MASALA, DIWALI = "Masala Mornings", "campaign:120210001001"  # the sandbox's "cpa_doubles" story


@pytest.fixture(scope="module")
def pinned_home(tmp_path_factory):
    return pinned_workbook(tmp_path_factory.mktemp("identity") / "demo", SYNCED_TO)


@pytest.fixture
def workbook(pinned_home, home, dd):
    demo_copy(pinned_home, home)
    assert dd("secret", "delete", "ai.api_key").exit_code == 0
    return home


def generate(engine, now, client=MASALA):
    from datadrip.insights.generate import GenerateRequest, generate_insights
    from datadrip.platforms.registry import load_settings

    outcome = generate_insights(load_settings(), GenerateRequest(client, None, engine), now=now)
    return outcome.runs[0]


def about(dd, ref, status="all"):
    return [i for i in dd("insight", "list", "--status", status, "--json").json() if i["entity"] == ref]


def test_identity_a_dismissed_heuristic_finding_is_not_suggested_again_by_the_model_the_next_day(
        dd, workbook, sandbox, monkeypatch):
    first = generate("heuristic", DAY_1)
    cpa = next(item for item in first.created if item["entity"] == DIWALI)
    assert dd("insight", "dismiss", cpa["id"], "--note", "Sale ended").exit_code == 0
    point_at_model(sandbox, monkeypatch)

    second = generate("llm", DAY_2)

    assert second.engine == "llm" and len(chat_requests(sandbox)) == 1
    assert DIWALI not in {item["entity"] for item in second.created}
    assert second.suppressed >= 1
    assert [(i["type"], i["status"], i["source"]) for i in about(dd, DIWALI)] == [
        ("performance", "dismissed", "heuristic")]


def test_identity_an_applied_model_suggestion_is_not_suggested_again_by_the_heuristics(
        dd, workbook, sandbox, monkeypatch):
    point_at_model(sandbox, monkeypatch)
    first = generate("llm", DAY_1)
    cpa = next(item for item in first.created if item["entity"] == DIWALI)
    assert cpa["source"] == "llm"
    assert dd("insight", "apply", cpa["id"]).exit_code == 0

    second = generate("heuristic", DAY_2)

    assert DIWALI not in {item["entity"] for item in second.created}
    assert [(i["status"], i["source"]) for i in about(dd, DIWALI)] == [("applied", "llm")]


def test_identity_an_open_finding_found_by_the_other_engine_is_updated_not_repeated(
        dd, workbook, sandbox, monkeypatch):
    first = generate("heuristic", DAY_1)
    point_at_model(sandbox, monkeypatch)

    second = generate("llm", DAY_2)

    assert DIWALI not in {item["entity"] for item in second.created}
    assert second.refreshed >= 1
    opened = about(dd, DIWALI, "pending")
    assert [(i["type"], i["source"]) for i in opened] == [("performance", "llm")]
    assert opened[0]["id"] == next(i["id"] for i in first.created if i["entity"] == DIWALI)


def test_identity_a_model_raise_for_a_campaign_the_data_says_to_cut_is_set_aside_with_the_reason(
        dd, workbook, sandbox, monkeypatch):
    point_at_model(sandbox, monkeypatch)
    sandbox.app.openai_script(["contradicts"])

    run = generate("llm", DAY_1)

    kept = about(dd, DIWALI, "pending")
    assert [(i["type"], i["source"]) for i in kept] == [("performance", "llm")]
    assert run.engine == "llm" and run.set_aside == 1
    assert "lower its daily budget" in kept[0]["action"]
    [aside] = kept[0]["set_aside"]
    assert (aside["type"], aside["source"], aside["insight"]) == ("budget", "llm", None)
    assert "Raise the daily budget of Diwali Sale by 10%" in aside["action"]
    assert "the cautious one is kept" in aside["reason"]
    shown = dd("insight", "show", kept[0]["id"])
    assert shown.exit_code == 0, shown.stderr
    assert "Set aside: Raise the daily budget of Diwali Sale by 10%" in shown.stdout
    assert "the cautious one is kept" in shown.stdout
    assert any("set aside in favour of insight" in note for note in run.notes)


def test_identity_the_same_contradiction_the_next_day_changes_nothing(dd, workbook, sandbox, monkeypatch):
    point_at_model(sandbox, monkeypatch)
    sandbox.app.openai_script(["contradicts"])
    generate("llm", DAY_1)
    before = about(dd, DIWALI)
    sandbox.app.openai_script(["contradicts"])

    again = generate("llm", DAY_2)

    assert again.created == [] and again.set_aside == 1
    assert about(dd, DIWALI) == before


@pytest.mark.parametrize(("payload", "expected"), [
    ({"budget_change_pct": 10, "suggested_action": "Lower the bids."}, {DIWALI: "raise"}),
    ({"budget_change_pct": -30, "suggested_action": "Move 30% of the spend.",
      "figures": {"recipient_ref": "campaign:2"}}, {DIWALI: "lower", "campaign:2": "raise"}),
    ({"suggested_action": "Lower its daily budget until its CPA recovers."}, {DIWALI: "lower"}),
    ({"suggested_action": "Give Diwali Sale more budget step by step."}, {DIWALI: "raise"}),
    ({"suggested_action": "Pause it once the new one beats it."}, {DIWALI: "pause"}),
    ({"suggested_action": "Reduce the frequency cap to 2."}, {}),
    ({"suggested_action": "Refresh the creatives of Stop Smoking Now.",
      "entity": {"ref": DIWALI, "name": "Stop Smoking Now"}}, {}),
])
def test_identity_stances_read_the_budget_change_then_the_action(payload, expected):
    from datadrip.insights.identity import stances

    assert stances({"entity": {"ref": DIWALI, "name": "Diwali Sale"}, **payload}) == expected
