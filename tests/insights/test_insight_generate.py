"""`insight generate`: the heuristics on the demo's synced sandbox data, the model behind its
guardrails, its cache and daily limits, and the fallback to the heuristics with the reason said."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from support import assert_bad_input

from datadrip.sandbox.faults import FaultRule
from insights.generate_support import chat_requests, demo_copy, point_at_model

MASALA_CPA = "campaign:120210001001"  # the sandbox's "cpa_doubles" story


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    from datadrip.demo import run_demo

    folder = tmp_path_factory.mktemp("insights") / "demo"
    run_demo(folder)
    return folder


@pytest.fixture
def synced(demo_home, home, dd, monkeypatch):
    """The demo's workbook as this test's own, its insights forgotten, and no model set up: no key
    stored and [ai] base_url back at OpenAI's (the demo's points at its own sandbox)."""
    monkeypatch.setenv("DATADRIP_AI_BASE_URL", "https://api.openai.com/v1")
    import sqlite3

    demo_copy(demo_home, home)

    with sqlite3.connect(home / "workbook.db") as connection:
        connection.execute("DELETE FROM insight")
        connection.execute("DELETE FROM llm_usage")
        connection.execute("DELETE FROM llm_cache")
    assert dd("secret", "delete", "ai.api_key").exit_code == 0
    return home


def generate(dd, *args):
    run = dd("insight", "generate", "--json", *args)
    assert run.exit_code == 0, run.stderr
    return {item["client"]: item for item in run.json()["clients"]}, run


def refs(client_run):
    return {item["entity"] for item in client_run["created"]}


def test_generate_heuristic_finds_the_planted_stories_and_nothing_on_the_stable_client(dd, synced):
    runs, _ = generate(dd, "--engine", "heuristic")

    masala = runs["Masala Mornings"]
    assert masala["engine"] == "heuristic" and masala["fallback"] is None
    assert MASALA_CPA in refs(masala)
    assert {item["type"] for item in masala["created"]} >= {"performance", "creative"}
    assert [item["rule"] for item in runs["Peak Trail Outfitters"]["created"]] == ["budget.pacing"]
    assert runs["Bloom Botanics"]["created"] == []


def test_generate_twice_creates_nothing_new(dd, synced):
    first, _ = generate(dd, "--engine", "heuristic")
    again, _ = generate(dd, "--engine", "heuristic")

    assert sum(len(run["created"]) for run in first.values()) > 0
    assert all(run["created"] == [] for run in again.values())
    assert again["Masala Mornings"]["unchanged"] == len(first["Masala Mornings"]["created"])
    assert len(dd("insight", "list", "--json").json()) == sum(len(r["created"]) for r in first.values())


def test_generate_auto_without_a_model_uses_the_heuristics_quietly(dd, synced):
    runs, run = generate(dd)

    assert {r["engine"] for r in runs.values()} == {"heuristic"}
    assert all(r["fallback"] is None for r in runs.values())
    assert "note:" not in run.stderr


def test_generate_llm_without_a_key_falls_back_and_says_why(dd, synced):
    runs, run = generate(dd, "--client", "Masala Mornings", "--engine", "llm")

    masala = runs["Masala Mornings"]
    assert masala["engine"] == "heuristic"
    assert "no API key" in masala["fallback"] and "datadrip secret set ai.api_key" in masala["fallback"]
    assert MASALA_CPA in refs(masala)
    assert "the heuristics' suggestions were kept: no API key" in run.stderr


def test_generate_llm_saves_the_models_vetted_suggestions(dd, synced, sandbox, monkeypatch):
    point_at_model(sandbox, monkeypatch)

    runs, _ = generate(dd, "--client", "Masala Mornings")

    masala = runs["Masala Mornings"]
    assert masala["engine"] == "llm" and masala["fallback"] is None and masala["dropped"] == []
    assert {item["source"] for item in masala["created"]} == {"llm"}
    assert MASALA_CPA in refs(masala)
    sent = chat_requests(sandbox)
    assert len(sent) == 1
    assert sent[0].body["model"] == "gpt-4o-mini"
    assert sent[0].body["response_format"]["type"] == "json_schema"


def test_generate_the_prompt_fences_names_and_carries_findings_not_rows(dd, synced, sandbox, monkeypatch):
    point_at_model(sandbox, monkeypatch)

    generate(dd, "--client", "Masala Mornings")

    messages = chat_requests(sandbox)[0].body["messages"]
    user = messages[-1]["content"]
    assert user.count("<account_data>") == 1 and user.count("</account_data>") == 1
    outside = user.split("<account_data>")[0] + user.split("</account_data>")[1]
    assert "Diwali Sale" not in outside and "Diwali Sale" not in messages[0]["content"]
    assert MASALA_CPA in user and '"findings"' in user
    assert '"date"' not in user  # sums over windows, not daily rows


def test_generate_same_data_same_day_is_answered_from_the_cache(dd, synced, sandbox, monkeypatch):
    point_at_model(sandbox, monkeypatch)
    generate(dd, "--client", "Masala Mornings")

    runs, _ = generate(dd, "--client", "Masala Mornings")

    assert len(chat_requests(sandbox)) == 1
    assert runs["Masala Mornings"]["cached"] is True
    assert runs["Masala Mornings"]["engine"] == "llm"
    usage = dd("insight", "usage", "--json").json()
    assert [day["requests"] for day in usage["days"]] == [1]


def test_generate_the_cache_forgets_answers_older_than_a_week(dd, synced, sandbox, monkeypatch):
    import sqlite3

    point_at_model(sandbox, monkeypatch)
    generate(dd, "--client", "Masala Mornings")
    with sqlite3.connect(synced / "workbook.db") as connection:
        connection.execute("UPDATE llm_cache SET created_at = '2026-01-01 00:00:00.000000'")

    generate(dd, "--client", "Bloom Botanics")

    with sqlite3.connect(synced / "workbook.db") as connection:
        assert connection.execute("SELECT count(*) FROM llm_cache").fetchone() == (1,)


def test_generate_counts_tokens_and_estimated_cost(dd, synced, sandbox, monkeypatch):
    point_at_model(sandbox, monkeypatch)
    generate(dd, "--client", "Masala Mornings")

    day = dd("insight", "usage", "--json").json()["days"][0]

    assert day["agency"] == "Spice Route Media" and day["currency"] == "USD"
    assert day["prompt_tokens"] > 0 and day["completion_tokens"] > 0
    expected = (Decimal(day["prompt_tokens"]) * Decimal("0.15")
                + Decimal(day["completion_tokens"]) * Decimal("0.60")) / 1_000_000
    assert abs(Decimal(str(day["cost"])) - expected) < Decimal("0.000001")


def test_generate_request_limit_stops_calls_and_falls_back(dd, synced, sandbox, monkeypatch):
    point_at_model(sandbox, monkeypatch)
    monkeypatch.setenv("DATADRIP_AI_DAILY_REQUEST_LIMIT", "1")

    runs, run = generate(dd)

    assert len(chat_requests(sandbox)) == 1
    engines = sorted(r["engine"] for r in runs.values())
    assert engines == ["heuristic"] * 5 + ["llm"]  # the demo's six clients, one request
    limited = [r for r in runs.values() if r["engine"] == "heuristic"]
    assert all("daily limit of 1 model requests" in r["fallback"] for r in limited)
    assert "daily limit" in run.stderr


def test_generate_two_runs_at_once_cannot_both_take_the_last_request(dd, synced, sandbox, monkeypatch,
                                                                    dd_start):
    point_at_model(sandbox, monkeypatch)
    monkeypatch.setenv("DATADRIP_AI_DAILY_REQUEST_LIMIT", "1")
    sandbox.app.openai_script(["slow:3", "good"])  # the first call is still out when the second run starts
    command = ("insight", "generate", "--client", "Masala Mornings", "--json")

    first = dd_start(*command)
    deadline = time.monotonic() + 20
    while not chat_requests(sandbox) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = dd(*command)
    first_out, first_err = first.communicate(timeout=60)

    assert first.returncode == second.exit_code == 0, first_err + second.stderr
    runs = [json.loads(out)["clients"][0] for out in (first_out, second.stdout)]
    assert [run["engine"] for run in runs] == ["llm", "heuristic"]
    assert "daily limit of 1 model requests" in runs[1]["fallback"]
    assert len(chat_requests(sandbox)) == 1


def test_generate_token_limit_refuses_before_calling(dd, synced, sandbox, monkeypatch):
    point_at_model(sandbox, monkeypatch)
    monkeypatch.setenv("DATADRIP_AI_DAILY_TOKEN_LIMIT", "500")

    runs, _ = generate(dd, "--client", "Masala Mornings")

    assert chat_requests(sandbox) == []
    assert "daily limit of 500 tokens" in runs["Masala Mornings"]["fallback"]
    assert runs["Masala Mornings"]["engine"] == "heuristic"


@pytest.mark.parametrize(("answer", "reason"), [
    ("malformed_json", "not valid JSON"),
    ("wrong_schema", "schema"),
    ("refusal", "refused"),
])
def test_generate_an_unusable_answer_falls_back_to_the_heuristics(dd, synced, sandbox, monkeypatch,
                                                                   answer, reason):
    point_at_model(sandbox, monkeypatch)
    sandbox.app.openai_script([answer])

    runs, _ = generate(dd, "--client", "Masala Mornings")

    masala = runs["Masala Mornings"]
    assert masala["engine"] == "heuristic"
    assert reason in masala["fallback"]
    assert MASALA_CPA in refs(masala)
    assert dd("insight", "usage", "--json").json()["days"][0]["requests"] == 1


def test_generate_a_model_with_nothing_to_say_keeps_the_heuristics_findings(dd, synced, sandbox,
                                                                          monkeypatch):
    point_at_model(sandbox, monkeypatch)
    sandbox.app.openai_script(["empty", "empty"])

    runs, _ = generate(dd, "--client", "Masala Mornings")
    quiet, run = generate(dd, "--client", "Bloom Botanics")

    masala, bloom = runs["Masala Mornings"], quiet["Bloom Botanics"]
    assert masala["engine"] == "heuristic" and masala["fallback"] == "the model made no suggestion"
    assert MASALA_CPA in refs(masala)
    assert (bloom["engine"], bloom["fallback"], bloom["created"]) == ("llm", None, [])
    assert "note:" not in run.stderr  # a quiet day under cron mails nothing


def test_generate_a_rate_limited_model_falls_back(dd, synced, sandbox, monkeypatch):
    point_at_model(sandbox, monkeypatch)
    sandbox.app.faults.add(FaultRule("rate_limit", platform="openai", nth=1, times=10))

    runs, _ = generate(dd, "--client", "Masala Mornings")

    assert "rate limit" in runs["Masala Mornings"]["fallback"]
    assert runs["Masala Mornings"]["engine"] == "heuristic"


@pytest.mark.parametrize(("fault", "reason"), [("malformed", "not JSON"), ("server_error", "")])
def test_generate_a_broken_server_answer_falls_back(dd, synced, sandbox, monkeypatch, fault, reason):
    point_at_model(sandbox, monkeypatch)
    monkeypatch.setenv("DATADRIP_AI_ATTEMPTS", "1")
    sandbox.app.faults.add(FaultRule(fault, platform="openai", nth=1, times=5))

    runs, _ = generate(dd, "--client", "Masala Mornings")

    masala = runs["Masala Mornings"]
    assert masala["engine"] == "heuristic" and masala["fallback"].startswith("the model failed: ")
    assert reason in masala["fallback"]
    assert MASALA_CPA in refs(masala)


def test_generate_a_slow_model_times_out_and_falls_back(dd, synced, sandbox, monkeypatch):
    point_at_model(sandbox, monkeypatch)
    monkeypatch.setenv("DATADRIP_AI_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("DATADRIP_AI_ATTEMPTS", "1")
    sandbox.app.openai_script(["slow:4"])

    started = time.monotonic()
    runs, _ = generate(dd, "--client", "Masala Mornings")

    assert time.monotonic() - started < 4
    assert "did not answer within 1" in runs["Masala Mornings"]["fallback"]


def test_generate_a_budget_beyond_the_limit_is_capped_and_said(dd, synced, sandbox, monkeypatch):
    point_at_model(sandbox, monkeypatch)
    sandbox.app.openai_script(["budget_500"])

    runs, _ = generate(dd, "--client", "Masala Mornings")

    masala = runs["Masala Mornings"]
    changes = [Decimal(str(item["budget_change_pct"])) for item in masala["created"]
               if item["budget_change_pct"] is not None]
    assert changes and all(abs(change) <= 20 for change in changes)
    said = masala["dropped"] + masala["notes"]
    assert any("500" in text for text in said), said


def test_generate_hostile_suggestions_are_dropped_and_the_rest_kept(dd, synced, sandbox, monkeypatch):
    point_at_model(sandbox, monkeypatch)
    sandbox.app.openai_script(["injection"])

    runs, _ = generate(dd, "--client", "Masala Mornings")

    masala = runs["Masala Mornings"]
    assert masala["engine"] == "llm" and masala["dropped"]
    text = " ".join(item["claim"] + item["action"] for item in masala["created"])
    assert "evil.example" not in text and "API key" not in text


def test_generate_the_key_never_reaches_output_or_the_workbook(dd, synced, sandbox, monkeypatch):
    described = point_at_model(sandbox, monkeypatch)
    sandbox.app.faults.add(FaultRule("expired_token", platform="openai", nth=1))

    _, first = generate(dd, "--client", "Masala Mornings")
    _, second = generate(dd, "--client", "Masala Mornings")

    for run in (first, second):
        assert described["api_key"] not in run.stdout + run.stderr
    assert described["api_key"].encode() not in (synced / "workbook.db").read_bytes()


def test_generate_a_wrong_key_falls_back_naming_the_secret(dd, synced, sandbox, monkeypatch):
    point_at_model(sandbox, monkeypatch, key="sk-wrong-key-0000")

    runs, run = generate(dd, "--client", "Masala Mornings")

    assert "ai.api_key" in runs["Masala Mornings"]["fallback"]
    assert "sk-wrong-key-0000" not in run.stdout + run.stderr


def test_generate_the_model_is_told_what_was_dismissed(dd, synced, sandbox, monkeypatch):
    generate(dd, "--client", "Masala Mornings", "--engine", "heuristic")
    first = dd("insight", "list", "--json").json()[0]
    assert dd("insight", "dismiss", first["id"], "--note", "Planned: the sale ended").exit_code == 0
    point_at_model(sandbox, monkeypatch)

    generate(dd, "--client", "Masala Mornings")

    user = chat_requests(sandbox)[0].body["messages"][-1]["content"]
    assert "Planned: the sale ended" in user


def test_generate_a_client_without_synced_data_says_so(dd, synced):
    assert dd("client", "add", "New Client").exit_code == 0

    runs, _ = generate(dd, "--client", "New Client", "--engine", "heuristic")

    assert runs["New Client"]["created"] == [] and runs["New Client"]["as_of"] is None
    assert "No ad account of this client holds synced data yet." in runs["New Client"]["notes"]


def test_generate_verbose_lists_each_new_suggestion(dd, synced):
    run = dd("insight", "generate", "--engine", "heuristic", "--client", "Masala Mornings", "--verbose")

    assert run.exit_code == 0, run.stderr
    assert run.stdout.startswith("Masala Mornings\theuristic\t")
    assert "Diwali Sale" in run.stdout and "→ " in run.stdout


def test_generate_under_cron_is_quiet_on_success_but_says_why_the_model_was_not_used(dd_process, synced):
    quiet = dd_process("insight", "generate", "--engine", "heuristic")
    fallback = dd_process("insight", "generate", "--engine", "llm", "--client", "Masala Mornings")

    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")
    assert fallback.exit_code == 0 and fallback.stdout == ""
    assert fallback.stderr.splitlines() == [
        "note: Masala Mornings: the heuristics' suggestions were kept: no API key for "
        "https://api.openai.com/v1: set one with 'datadrip secret set ai.api_key' or OPENAI_API_KEY"]


def test_generate_bad_engine_exits_2(dd, synced):
    assert_bad_input(dd("insight", "generate", "--engine", "magic"), "'magic' is not one of")


def test_generate_unknown_client_exits_2(dd, synced):
    assert_bad_input(dd("insight", "generate", "--client", "Nobody"), "no client 'Nobody'")


def test_generate_a_budget_limit_out_of_range_is_a_config_error(dd, synced, monkeypatch):
    monkeypatch.setenv("DATADRIP_AI_MAX_BUDGET_CHANGE_PCT", "500")

    assert_bad_input(dd("insight", "generate"), "max_budget_change_pct")


def forget_rates(home):
    import sqlite3

    with sqlite3.connect(home / "workbook.db") as connection:
        connection.execute("DELETE FROM fx_rate")  # Bloom Botanics (INR) has euro accounts


def test_generate_goes_on_past_a_client_without_an_exchange_rate_and_exits_3(dd, synced):
    forget_rates(synced)

    run = dd("insight", "generate", "--engine", "heuristic", "--json")

    assert run.exit_code == 3, run.stderr
    runs = {item["client"]: item for item in run.json()["clients"]}
    assert [runs[name]["status"] for name in ("Bloom Botanics", "Masala Mornings",
                                              "Peak Trail Outfitters")] == ["failed", "ok", "ok"]
    bloom = runs["Bloom Botanics"]
    assert bloom["error"].startswith("no exchange rate from EUR to INR")
    assert bloom["hint"].startswith("Add one: datadrip fx set EUR INR")
    assert bloom["created"] == []
    for name in ("Masala Mornings", "Peak Trail Outfitters"):  # attempted after it, and saved
        assert runs[name]["as_of"] is not None and runs[name]["error"] is None
    assert runs["Masala Mornings"]["created"]
    lines = run.stderr.splitlines()
    assert lines[0].startswith("error: Bloom Botanics: no exchange rate from EUR to INR")
    assert ("error: 1 of 6 clients failed: Bloom Botanics; done: Harbour Dental, Kettle & Crumb, "
            "Masala Mornings, Peak Trail Outfitters, Sakura Tea House") in lines
    saved = {item["client"] for item in dd("insight", "list", "--json").json()}
    assert "Masala Mornings" in saved and "Bloom Botanics" not in saved


def test_generate_exits_1_when_every_client_asked_for_failed(dd, synced):
    forget_rates(synced)

    run = dd("insight", "generate", "--client", "Bloom Botanics", "--engine", "heuristic")

    assert run.exit_code == 1
    assert "error: 1 client failed: Bloom Botanics" in run.stderr
    assert "Hint: Add one: datadrip fx set EUR INR" in run.stderr
    assert "Traceback" not in run.stderr
