"""`insight list|show|start|apply|dismiss`: suggestions saved once, moved through their lifecycle,
audited, and shown in the client's reports while open."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from support import assert_bad_input

from insights.lifecycle_support import cpa_finding, raise_finding, save

RECORD_KEYS = {"id", "client", "type", "source", "status", "impact_score", "entity", "entity_name",
               "claim", "action", "rule", "window", "evidence", "budget_change_pct", "notes",
               "set_aside", "result", "created_at", "updated_at", "resolved_at", "note"}


@pytest.fixture
def masala(dd, agency):
    assert dd("client", "add", "Masala Mornings").exit_code == 0
    return "Masala Mornings"


def only_insight(dd, *args):
    run = dd("insight", "list", "--json", *args)
    assert run.exit_code == 0, run.stderr
    insights = run.json()
    assert len(insights) == 1, insights
    return insights[0]


def test_insight_list_json_shape_carries_the_evidence(dd, masala):
    save(masala, cpa_finding())

    insight = only_insight(dd)

    assert set(insight) == RECORD_KEYS
    assert insight["status"] == "pending" and insight["source"] == "heuristic"
    assert insight["entity"] == "campaign:120210001001" and insight["entity_name"] == "Diwali Sale"
    assert insight["evidence"][0] == {"entity_ref": "campaign:120210001001", "metric": "cpa",
                                      "window": "recent", "value": 674.62}
    assert insight["window"] == {"since": "2026-11-19", "until": "2026-11-25"}


def test_insight_saved_twice_is_one_insight_with_the_newer_numbers(dd, masala):
    first = save(masala, cpa_finding())
    again = save(masala, cpa_finding())
    newer = save(masala, cpa_finding(since=dt.date(2026, 11, 20), until=dt.date(2026, 11, 26), cpa="701.10"))

    assert (len(first.created), len(again.unchanged), len(newer.refreshed)) == (1, 1, 1)
    insight = only_insight(dd)
    assert insight["evidence"][0]["value"] == 701.1
    assert insight["updated_at"] is not None


def test_insight_show_prints_the_finding_action_and_evidence(dd, masala):
    save(masala, cpa_finding())
    insight = only_insight(dd)

    run = dd("insight", "show", insight["id"][:8])

    assert run.exit_code == 0, run.stderr
    assert "CPA rose to INR 674.62" in run.stdout
    assert "Check the landing page" in run.stdout
    assert "campaign:120210001001 cpa (recent): 674.62" in run.stdout


def test_insight_start_then_apply_keeps_the_note_and_resolves_it(dd, masala):
    save(masala, cpa_finding())
    insight_id = only_insight(dd)["id"]

    started = dd("insight", "start", insight_id[:6], "--note", "Trying a new landing page")
    applied = dd("insight", "apply", insight_id, "--json")

    assert started.exit_code == 0, started.stderr
    assert "pending → in progress" in started.stderr
    assert applied.exit_code == 0, applied.stderr
    record = applied.json()
    assert record["status"] == "applied"
    assert record["note"] == "Trying a new landing page"
    assert record["resolved_at"] is not None
    assert dd("insight", "list", "--json").json() == []


def test_insight_note_with_a_terminal_escape_is_refused_and_nothing_moves(dd, masala):
    save(masala, cpa_finding())
    insight_id = only_insight(dd)["id"]

    run = dd("insight", "dismiss", insight_id, "--note", "done\x1b]0;pwned\x07")

    assert run.exit_code == 2, run.stderr
    assert run.stderr.startswith("error: note holds an invisible control character (\\x1b")
    assert only_insight(dd)["status"] == "pending"


def test_insight_every_move_is_in_the_audit_log(dd, masala):
    save(masala, cpa_finding())
    insight_id = only_insight(dd)["id"]
    dd("insight", "start", insight_id)
    dd("insight", "dismiss", insight_id, "--note", "Planned pause")

    entries = [entry for entry in dd("audit", "--json").json() if entry["entity"] == "insight"]

    assert [entry["action"] for entry in entries] == ["insight.create", "insight.start", "insight.dismiss"]
    dismissed = next(entry for entry in entries if entry["action"] == "insight.dismiss")
    assert dismissed["details"]["status"] == ["in_progress", "dismissed"]
    assert dismissed["details"]["note"] == "Planned pause"
    assert dismissed["actor"] == "tester@agency.example"


def test_insight_dismissed_is_not_suggested_again_while_its_facts_are_the_same(dd, masala):
    save(masala, cpa_finding())
    dd("insight", "dismiss", only_insight(dd)["id"], "--note", "Seasonal")

    same_days = save(masala, cpa_finding(since=dt.date(2026, 11, 20), until=dt.date(2026, 11, 26)))
    # a week later the CPA has moved, but less than x1.25 (674.62 x 1.25 = 843.28)
    a_week_later = save(masala, cpa_finding(since=dt.date(2026, 11, 26), until=dt.date(2026, 12, 2),
                                            cpa="843.27"))

    assert (len(same_days.suppressed), len(same_days.created)) == (1, 0)
    assert (len(a_week_later.suppressed), len(a_week_later.created)) == (1, 0)
    assert [i["status"] for i in dd("insight", "list", "--status", "all", "--json").json()] == ["dismissed"]


@pytest.mark.parametrize("closing", ["dismiss", "apply"])
def test_insight_closed_comes_back_once_its_evidence_moves_by_the_material_change(dd, masala, closing):
    save(masala, cpa_finding())
    assert dd("insight", closing, only_insight(dd)["id"]).exit_code == 0

    moved = save(masala, cpa_finding(since=dt.date(2026, 11, 26), until=dt.date(2026, 12, 2), cpa="843.28"))

    assert len(moved.created) == 1
    back = only_insight(dd)
    assert back["evidence"][0]["value"] == 843.28
    assert any("cpa (recent) of campaign:120210001001 moved from 674.62 to 843.28" in note
               for note in back["notes"]), back["notes"]


def test_insight_closed_comes_back_when_its_direction_flips(dd, masala):
    save(masala, cpa_finding())
    dd("insight", "dismiss", only_insight(dd)["id"])
    better = cpa_finding(since=dt.date(2026, 11, 20), until=dt.date(2026, 11, 26))
    better.direction = "better"

    flipped = save(masala, better)

    assert len(flipped.created) == 1
    assert "its direction flipped (worse → better)" in only_insight(dd)["notes"][-1]


LOWER = "Lower the daily budget of Diwali Sale until its CPA recovers."


def test_insight_an_open_raise_is_set_aside_when_a_cut_of_the_same_campaign_is_found(dd, masala):
    save(masala, raise_finding())
    raised = only_insight(dd)

    saved = save(masala, cpa_finding(action=LOWER))

    assert len(saved.created) == 1 and len(saved.set_aside) == 1
    kept = only_insight(dd)
    assert kept["claim"].startswith("Diwali Sale (Meta): CPA rose")
    assert kept["set_aside"][0]["insight"] == raised["id"]
    closed = dd("insight", "show", raised["id"], "--json").json()
    assert closed["status"] == "dismissed" and closed["resolved_at"] is not None
    assert closed["note"].startswith(f"Set aside by DataDrip in favour of insight {kept['id'][:8]}")
    actions = [e["action"] for e in dd("audit", "--json").json() if e["entity_id"] == raised["id"]]
    assert actions == ["insight.create", "insight.set_aside"]


def test_insight_a_raise_in_progress_is_the_agencys_decision_and_the_cut_is_set_aside(dd, masala):
    save(masala, raise_finding())
    raised = only_insight(dd)
    assert dd("insight", "start", raised["id"]).exit_code == 0

    saved = save(masala, cpa_finding(action=LOWER))

    assert (len(saved.created), len(saved.set_aside)) == (0, 1)
    kept = only_insight(dd)
    assert (kept["id"], kept["status"]) == (raised["id"], "in_progress")
    [aside] = kept["set_aside"]
    assert aside["action"] == LOWER and "the agency is acting on this one" in aside["reason"]


def test_insight_an_open_cut_not_found_for_over_a_week_gives_way_to_a_raise_found_now(dd, masala):
    save(masala, cpa_finding(action=LOWER, since=dt.date(2026, 11, 5), until=dt.date(2026, 11, 11)))
    stale = only_insight(dd)

    saved = save(masala, raise_finding())

    assert (len(saved.created), len(saved.set_aside)) == (1, 1)
    kept = only_insight(dd)
    assert kept["action"] == "Raise the daily budget of Diwali Sale by 10%."
    assert kept["set_aside"][0]["insight"] == stale["id"]
    assert "not been found again for over 7 days" in kept["set_aside"][0]["reason"]


def test_insight_a_raise_and_a_cut_of_different_campaigns_do_not_contradict(dd, masala):
    saved = save(masala, raise_finding(entity="campaign:120210001002"), cpa_finding(action=LOWER))

    assert (len(saved.created), len(saved.set_aside)) == (2, 0)


def test_insight_another_entity_is_another_insight(dd, masala):
    saved = save(masala, cpa_finding(), cpa_finding(entity="campaign:120210001002"))

    assert len(saved.created) == 2


@pytest.mark.parametrize(("first", "then", "message"), [
    ("apply", "apply", "is applied: cannot apply it"),
    ("dismiss", "start", "is dismissed: cannot start it"),
    ("start", "start", "is in progress: cannot start it"),
])
def test_insight_a_move_from_the_wrong_status_exits_2_and_changes_nothing(dd, masala, first, then, message):
    save(masala, cpa_finding())
    insight_id = only_insight(dd, "--status", "all")["id"]
    assert dd("insight", first, insight_id).exit_code == 0
    before = only_insight(dd, "--status", "all")

    run = dd("insight", then, insight_id, "--note", "should not be kept")

    assert_bad_input(run, message)
    assert only_insight(dd, "--status", "all") == before


@pytest.mark.parametrize(("ref", "message"), [("ffffff", "no insight 'ffffff'"),
                                              ("abc", "no insight 'abc'")])
def test_insight_show_an_unknown_id_exits_2(dd, masala, ref, message):
    save(masala, cpa_finding())

    assert_bad_input(dd("insight", "show", ref), message)


def test_insight_list_rejects_an_unknown_status(dd, masala):
    assert_bad_input(dd("insight", "list", "--status", "done"), "'done' is not one of")


def test_insight_list_of_an_unknown_client_exits_2(dd, masala):
    assert_bad_input(dd("insight", "list", "--client", "Nobody"), "no client 'Nobody'")


def test_insight_list_plain_when_piped(dd, masala):
    save(masala, cpa_finding())

    run = dd("insight", "list")

    fields = run.stdout.strip().split("\t")
    assert fields[1:6] == ["Masala Mornings", "performance", "72", "pending", "heuristic"]
    assert "\x1b[" not in run.stdout


def test_insight_open_ones_appear_in_the_clients_report_and_closed_ones_do_not(dd, masala):
    save(masala, cpa_finding(), cpa_finding(entity="campaign:120210001002", impact=40))
    second = [i for i in dd("insight", "list", "--json").json() if i["impact_score"] == 40][0]
    dd("insight", "dismiss", second["id"])

    run = dd("report", "build", masala, "--since", "2026-11-19", "--until", "2026-11-25", "--format", "md")

    assert run.exit_code == 0, run.stderr
    assert "**Suggestions**" in run.stdout
    assert r"CPA rose to INR 674\.62\. Check the landing page" in run.stdout  # Markdown-escaped
    assert run.stdout.count("CPA rose to") == 1


def test_insight_not_found_again_for_over_a_week_leaves_the_reports_but_stays_listed(dd, masala):
    save(masala, cpa_finding(since=dt.date(2026, 10, 1), until=dt.date(2026, 10, 7)))

    run = dd("report", "build", masala, "--since", "2026-11-19", "--until", "2026-11-25", "--format", "md")

    assert run.exit_code == 0, run.stderr
    assert "Suggestions" not in run.stdout and "CPA rose" not in run.stdout
    assert [i["status"] for i in dd("insight", "list", "--json").json()] == ["pending"]


def test_insight_evidence_keeps_money_exact(dd, masala):
    save(masala, cpa_finding(cpa="0.10"))

    value = dd("insight", "list", "--json").json()[0]["evidence"][0]["value"]

    assert Decimal(str(value)) == Decimal("0.10")


def test_insight_usage_without_model_requests_says_so_and_names_the_limits(dd, masala):
    run = dd("insight", "usage")
    as_json = dd("insight", "usage", "--json")

    assert run.exit_code == 0 and run.stdout == ""
    assert "no model requests yet" in run.stderr
    assert "Daily limits per agency: 50 requests, 200,000 tokens." in run.stderr
    assert as_json.json() == {"limits": {"requests": 50, "tokens": 200000}, "model": "gpt-4o-mini",
                              "base_url": "https://api.openai.com/v1", "days": []}


def test_insight_usage_of_an_unknown_agency_exits_2(dd, masala):
    assert_bad_input(dd("insight", "usage", "--agency", "Nobody"), "no agency 'Nobody'")


def test_insight_list_of_an_agency_shows_its_clients_only(dd, masala):
    assert dd("agency", "add", "Other Agency").exit_code == 0
    assert dd("client", "add", "Other Client", "--agency", "Other Agency").exit_code == 0
    save(masala, cpa_finding())
    save("Other Client", cpa_finding())

    ours = dd("insight", "list", "--agency", "Spice Route Media", "--json").json()
    every = dd("insight", "list", "--json").json()

    assert [i["client"] for i in ours] == ["Masala Mornings"]
    assert sorted(i["client"] for i in every) == ["Masala Mornings", "Other Client"]
