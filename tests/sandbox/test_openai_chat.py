"""The sandbox's OpenAI chat endpoint: the official client against it, keys, validation, the request
log, the good answer built from DataDrip's prompt, each hostile answer, and faults in OpenAI's shape."""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from datadrip.sandbox.faults import FaultRule
from datadrip.sandbox.openai.chat import INJECTED_ACTION, MALFORMED, REFUSAL, UNKNOWN_REF
from datadrip.sandbox.server import SandboxServer

KEY = "sk-sandbox-openai-key-0001"
CHAT = "/openai/v1/chat/completions"
DIWALI, MONSOON, LOOKALIKE = "campaign:120210001001", "campaign:120210001002", "adset:120210002001"
SUGGESTION = {"type": "object", "additionalProperties": False, "required": ["claim", "evidence"],
              "properties": {"claim": {"type": "string"}, "evidence": {"type": "array"}}}
SCHEMA = {"type": "object", "additionalProperties": False, "required": ["suggestions"],
          "properties": {"suggestions": {"type": "array", "items": {"$ref": "#/$defs/Suggestion"}}},
          "$defs": {"Suggestion": SUGGESTION}}
RESPONSE_FORMAT = {"type": "json_schema",
                   "json_schema": {"name": "suggestions", "strict": True, "schema": SCHEMA}}


def metrics(spend: float | None, roas: float | None, cpa: float | None) -> dict[str, Any]:
    recent = {"spend": spend, "conversions": 12.0, "cpa": cpa, "roas": roas, "ctr": 1.52, "cvr": 2.4,
              "frequency": 1.3}
    return {"recent": recent, "baseline": {**recent, "cpa": 70.25}}


def account(**changes: Any) -> dict[str, Any]:
    data = {"client": "Masala Mornings", "currency": "INR", "as_of": "2026-11-25",
            "recent": {"since": "2026-11-19", "until": "2026-11-25"},
            "baseline": {"since": "2026-10-22", "until": "2026-11-18"},
            "max_budget_change_pct": 20, "max_suggestions": 5,
            "entities": [
                {"ref": DIWALI, "level": "campaign", "name": "Diwali Sale", "platform": "meta",
                 "metrics": metrics(1234.5, 3.1, 102.88)},
                {"ref": MONSOON, "level": "campaign", "name": "Monsoon Brunch", "platform": "google",
                 "metrics": metrics(987.65, 4.2, 41.15)},
                {"ref": LOOKALIKE, "level": "adset", "name": "Lookalike 1%", "platform": "meta",
                 "metrics": metrics(310.0, 9.9, None)}],
            "findings": [
                {"type": "performance", "entity_ref": DIWALI, "claim": "CPA rose 46% against the baseline.",
                 "action": "Pause the two ads with the highest CPA.", "impact_score": 72,
                 "budget_change_pct": None, "evidence": [
                     {"entity_ref": DIWALI, "metric": "cpa", "window": "recent", "value": 102.88},
                     {"entity_ref": DIWALI, "metric": "cpa", "window": "baseline", "value": 70.25}]},
                {"type": "creative", "entity_ref": LOOKALIKE, "claim": "CTR fell for three weeks.",
                 "action": "Refresh the creative.", "impact_score": 55, "budget_change_pct": -5,
                 "evidence": [{"entity_ref": LOOKALIKE, "metric": "ctr", "window": "recent",
                               "value": 1.52}]}],
            "dismissed": []}
    return {**data, **changes}


def messages(data: dict[str, Any] | None = None, text: str | None = None) -> list[dict[str, Any]]:
    block = text if text is not None else f"<account_data>\n{json.dumps(data or account())}\n</account_data>"
    return [{"role": "system", "content": "You suggest changes to ad accounts. Answer in JSON."},
            {"role": "user", "content": f"Suggest what to change.\n{block}"}]


def body(**changes: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": messages(), "response_format": RESPONSE_FORMAT,
            "max_completion_tokens": 4000, "temperature": 0.2, **changes}


def chat(http: httpx.Client, payload: Any, *, key: str | None = KEY, **headers: str) -> httpx.Response:
    auth = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return http.post(CHAT, json=payload, headers={**auth, **headers})


def suggestions_of(answer: httpx.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    return list(json.loads(answer.json()["choices"][0]["message"]["content"])["suggestions"])


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[openai.OpenAI]:
    """The official client, as DataDrip makes it: the sandbox as base_url, no retries of its own."""
    with openai.OpenAI(base_url=f"{sandbox.base_url}/openai/v1", api_key=KEY, timeout=10,
                       max_retries=0) as made:
        yield made


def create(client: openai.OpenAI, data: dict[str, Any] | None = None, **options: Any) -> Any:
    """A chat completion as DataDrip asks for one: a strict JSON schema, a token cap, a low temperature."""
    request: dict[str, Any] = {"model": "gpt-4o-mini", "messages": messages(data),
                               "response_format": RESPONSE_FORMAT, "max_completion_tokens": 4000,
                               "temperature": 0.2, **options}
    return client.chat.completions.create(**request)


# --- the good answer --------------------------------------------------------------------------------

def test_chat_completion_good_answer_follows_each_finding_with_its_values_copied(
        client: openai.OpenAI) -> None:
    completion = create(client)

    assert completion.object == "chat.completion" and completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-4o-mini" and completion.system_fingerprint == "fp_sandbox"
    choice = completion.choices[0]
    assert (choice.index, choice.finish_reason, choice.message.role, choice.message.refusal) == (
        0, "stop", "assistant", None)
    assert completion.created == int(dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC).timestamp())
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    suggestions = json.loads(choice.message.content)["suggestions"]
    findings = account()["findings"]
    assert len(suggestions) == len(findings) + 1  # and the best-ROAS budget suggestion
    for suggestion, finding in zip(suggestions, findings, strict=False):
        for field in ("type", "entity_ref", "impact_score", "budget_change_pct", "evidence"):
            assert suggestion[field] == finding[field]
        assert suggestion["claim"] != finding["claim"] and finding["claim"] in suggestion["claim"]
        assert suggestion["action"] != finding["action"] and "<" not in suggestion["claim"]


def test_chat_completion_good_answer_adds_a_budget_suggestion_for_the_best_roas_campaign(
        sandbox_http: httpx.Client) -> None:
    suggestions = suggestions_of(chat(sandbox_http, body()))

    assert len(suggestions) == 3
    budget = suggestions[2]
    # The ad set's ROAS is higher, but only a campaign gets the budget suggestion.
    assert (budget["type"], budget["entity_ref"], budget["budget_change_pct"]) == ("budget", MONSOON, 10)
    assert budget["claim"] == ("Monsoon Brunch (Google) returns 4.2x on spend, the best of the account's "
                               "campaigns that nothing flags.")
    assert budget["action"].startswith("Raise the daily budget of Monsoon Brunch (Google) by 10%")
    assert budget["evidence"] == [
        {"entity_ref": MONSOON, "metric": "roas", "window": "recent", "value": 4.2},
        {"entity_ref": MONSOON, "metric": "spend", "window": "recent", "value": 987.65}]
    assert 0 <= budget["impact_score"] <= 100


def diwali_flagged_by(where: str) -> dict[str, Any]:
    """A finding that names Diwali Sale as its subject, or only in its evidence (about the client)."""
    evidence = [{"entity_ref": DIWALI, "metric": "cpa", "window": "recent", "value": 102.88}]
    return {"type": "performance", "entity_ref": DIWALI if where == "subject" else None,
            "claim": "CPA doubled.", "action": "Look into it.", "impact_score": 70, "budget_change_pct": None,
            "evidence": evidence}


@pytest.mark.parametrize("where", ["subject", "evidence"])
def test_chat_completion_good_answer_budget_skips_a_campaign_a_finding_names(sandbox_http: httpx.Client,
                                                                             where: str) -> None:
    data = account(findings=[diwali_flagged_by(where)])
    data["entities"][0]["metrics"] = metrics(1234.5, 9.5, 102.88)  # Diwali Sale now has the best ROAS

    budget = suggestions_of(chat(sandbox_http, body(messages=messages(data))))[-1]

    assert (budget["type"], budget["entity_ref"]) == ("budget", MONSOON)


def test_chat_completion_good_answer_budget_names_the_platform_of_a_shared_campaign_name(
        sandbox_http: httpx.Client) -> None:
    google_diwali = "campaign:22334455"
    data = account(findings=[diwali_flagged_by("subject")])
    data["entities"][0]["metrics"] = metrics(1234.5, 9.5, 102.88)
    data["entities"][1] = {"ref": google_diwali, "level": "campaign", "name": "Diwali Sale",
                           "platform": "google", "metrics": metrics(2345.67, 1.89, 55.5)}

    budget = suggestions_of(chat(sandbox_http, body(messages=messages(data))))[-1]

    assert budget["entity_ref"] == google_diwali
    assert budget["claim"] == ("Diwali Sale (Google) returns 1.89x on spend, the best of the account's "
                               "campaigns that nothing flags.")
    assert budget["evidence"] == [
        {"entity_ref": google_diwali, "metric": "roas", "window": "recent", "value": 1.89},
        {"entity_ref": google_diwali, "metric": "spend", "window": "recent", "value": 2345.67}]


@pytest.mark.parametrize("monsoon", ["flagged", "without_conversions"])
def test_chat_completion_good_answer_adds_no_budget_suggestion_without_an_unflagged_converting_campaign(
        sandbox_http: httpx.Client, monsoon: str) -> None:
    data = account()
    if monsoon == "flagged":
        data["findings"].append({**data["findings"][0], "entity_ref": MONSOON, "evidence": []})
    else:
        data["entities"][1]["metrics"]["recent"]["conversions"] = 0

    suggestions = suggestions_of(chat(sandbox_http, body(messages=messages(data))))

    assert [(s["type"], s["entity_ref"]) for s in suggestions] == [
        (f["type"], f["entity_ref"]) for f in data["findings"]]


def test_chat_completion_good_answer_keeps_to_the_budget_ceiling_and_max_suggestions(
        sandbox_http: httpx.Client) -> None:
    payload = body(messages=messages(account(max_budget_change_pct=4, max_suggestions=2)))

    suggestions = suggestions_of(chat(sandbox_http, payload))

    assert [s["type"] for s in suggestions] == ["performance", "creative"]
    payload = body(messages=messages(account(max_budget_change_pct=4, findings=[])))
    assert [s["budget_change_pct"] for s in suggestions_of(chat(sandbox_http, payload))] == [4]


@pytest.mark.parametrize("text", ["no block at all", "<account_data>\n{not json\n</account_data>",
                                  "<account_data>[1, 2]</account_data>"])
def test_chat_completion_without_readable_account_data_suggests_nothing(sandbox_http: httpx.Client,
                                                                        text: str) -> None:
    answer = chat(sandbox_http, body(messages=messages(text=text)))

    assert answer.json()["choices"][0]["message"]["content"] == '{"suggestions": []}'


def test_chat_completion_usage_counts_a_token_per_four_characters(sandbox_http: httpx.Client) -> None:
    answer = chat(sandbox_http, body())

    sent = sum(len(m["content"]) for m in messages())
    content = answer.json()["choices"][0]["message"]["content"]
    usage = answer.json()["usage"]
    assert usage["prompt_tokens"] == math.ceil(sent / 4)
    assert usage["completion_tokens"] == math.ceil(len(content) / 4)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    headers = answer.headers
    assert headers["x-request-id"].startswith("req_")
    assert headers["x-ratelimit-limit-requests"] == "500"
    assert headers["x-ratelimit-remaining-requests"] == "499"
    assert int(headers["x-ratelimit-remaining-tokens"]) == 200_000 - usage["total_tokens"]
    assert headers["x-ratelimit-reset-requests"] == "120ms"
    assert headers["x-ratelimit-reset-tokens"].endswith("ms")


def test_chat_completion_cut_by_max_completion_tokens_finishes_with_length(
        sandbox_http: httpx.Client) -> None:
    whole = chat(sandbox_http, body()).json()["choices"][0]["message"]["content"]

    answer = chat(sandbox_http, body(max_completion_tokens=10)).json()

    assert answer["choices"][0]["finish_reason"] == "length"
    assert answer["choices"][0]["message"]["content"] == whole[:40]
    assert answer["usage"]["completion_tokens"] == 10


# --- the scripted answers -----------------------------------------------------------------------------

def test_chat_completion_unknown_entity_adds_a_campaign_not_in_the_data(sandbox: SandboxServer,
                                                                       sandbox_http: httpx.Client) -> None:
    sandbox.app.openai_script(["unknown_entity"])

    suggestions = suggestions_of(chat(sandbox_http, body(messages=messages(account(max_suggestions=3)))))

    assert len(suggestions) == 3 and suggestions[:2] == suggestions_of(chat(sandbox_http, body()))[:2]
    assert suggestions[2]["entity_ref"] == UNKNOWN_REF == "campaign:999999999999"
    assert "Black Friday Blowout" in suggestions[2]["claim"]
    assert {e["entity_ref"] for e in suggestions[2]["evidence"]} == {UNKNOWN_REF}


def test_chat_completion_budget_500_raises_the_first_entitys_budget_fivefold(
        sandbox: SandboxServer, sandbox_http: httpx.Client) -> None:
    sandbox.app.openai_script(["budget_500"])

    flawed = suggestions_of(chat(sandbox_http, body()))[-1]

    assert (flawed["type"], flawed["entity_ref"], flawed["budget_change_pct"]) == ("budget", DIWALI, 500)
    assert flawed["action"] == "Raise the daily budget by 500% to capture demand."
    assert flawed["evidence"] == [{"entity_ref": DIWALI, "metric": "spend", "window": "recent",
                                   "value": 1234.5}]


def test_chat_completion_invented_numbers_triples_the_first_evidence_value(
        sandbox: SandboxServer, sandbox_http: httpx.Client) -> None:
    good = suggestions_of(chat(sandbox_http, body()))
    sandbox.app.openai_script(["invented_numbers"])

    invented = suggestions_of(chat(sandbox_http, body()))

    assert invented[0]["evidence"][0] == {"entity_ref": DIWALI, "metric": "cpa", "window": "recent",
                                          "value": 308.64}
    assert "308.64" in invented[0]["claim"]
    assert invented[0]["evidence"][1:] == good[0]["evidence"][1:] and invented[1:] == good[1:]


def test_chat_completion_injection_obeys_an_instruction_hidden_in_a_name(sandbox: SandboxServer,
                                                                        sandbox_http: httpx.Client) -> None:
    sandbox.app.openai_script(["injection"])

    flawed = suggestions_of(chat(sandbox_http, body()))[-1]

    assert flawed["action"] == INJECTED_ACTION
    assert "attacker@evil.example" in flawed["action"] and "http://evil.example/claim" in flawed["action"]
    assert (flawed["type"], flawed["budget_change_pct"]) == ("budget", 1000)


def test_chat_completion_malformed_json_and_wrong_schema_answer_unusable_content(
        sandbox: SandboxServer, sandbox_http: httpx.Client) -> None:
    sandbox.app.openai_script(["malformed_json", "wrong_schema"])

    first = chat(sandbox_http, body()).json()["choices"][0]["message"]["content"]
    second = chat(sandbox_http, body()).json()["choices"][0]["message"]["content"]

    assert first == MALFORMED
    with pytest.raises(json.JSONDecodeError):
        json.loads(first)
    assert json.loads(second) == {"ideas": ["spend more"]}


def test_chat_completion_empty_answer_has_no_suggestion(sandbox: SandboxServer,
                                                        sandbox_http: httpx.Client) -> None:
    sandbox.app.openai_script(["empty"])

    content = chat(sandbox_http, body()).json()["choices"][0]["message"]["content"]

    assert json.loads(content) == {"suggestions": []}


def test_chat_completion_contradicts_raises_the_budget_of_the_flagged_campaign(
        sandbox: SandboxServer, sandbox_http: httpx.Client) -> None:
    sandbox.app.openai_script(["contradicts"])

    suggestions = suggestions_of(chat(sandbox_http, body()))

    *good, added = suggestions
    assert [s["entity_ref"] for s in good] == [DIWALI, LOOKALIKE, MONSOON]  # the good answer
    assert (added["type"], added["entity_ref"], added["budget_change_pct"]) == ("budget", DIWALI, 10)
    assert added["action"] == "Raise the daily budget of Diwali Sale by 10% to reach more buyers."
    assert added["evidence"] == [{"entity_ref": DIWALI, "metric": "spend", "window": "recent",
                                  "value": 1234.5}]


def test_chat_completion_refusal_has_no_content(sandbox: SandboxServer, client: openai.OpenAI) -> None:
    sandbox.app.openai_script(["refusal"])

    message = create(client).choices[0].message

    assert message.content is None and message.refusal == REFUSAL == "I'm sorry, I can't help with that."


def test_chat_completion_too_many_ignores_max_suggestions(sandbox: SandboxServer,
                                                          sandbox_http: httpx.Client) -> None:
    sandbox.app.openai_script(["too_many"])

    suggestions = suggestions_of(chat(sandbox_http, body()))

    assert len(suggestions) == 12 > account()["max_suggestions"]
    assert len({s["impact_score"] for s in suggestions}) == 12
    assert all({**s, "impact_score": 0} == {**suggestions[0], "impact_score": 0} for s in suggestions)


def test_chat_completion_slow_answer_times_the_client_out(sandbox: SandboxServer) -> None:
    sandbox.app.openai_script(["slow:1.5"])
    with openai.OpenAI(base_url=f"{sandbox.base_url}/openai/v1", api_key=KEY, timeout=0.3,
                       max_retries=0) as impatient:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            create(impatient)
        assert time.monotonic() - started < 1.2


def test_chat_completion_slow_answer_is_the_good_one_after_the_wait(sandbox: SandboxServer,
                                                                   sandbox_http: httpx.Client) -> None:
    good = suggestions_of(chat(sandbox_http, body()))
    sandbox.app.openai_script(["slow:0.4"])

    started = time.monotonic()
    assert suggestions_of(chat(sandbox_http, body())) == good
    assert time.monotonic() - started >= 0.4


def test_chat_completion_script_is_used_in_order_then_the_good_answer(sandbox: SandboxServer,
                                                                      sandbox_http: httpx.Client) -> None:
    scripted = sandbox_http.post("/_sandbox/openai/script", json={"answers": ["wrong_schema", "refusal"]})

    assert scripted.json() == {"answers": ["wrong_schema", "refusal"]}
    assert "ideas" in chat(sandbox_http, body()).json()["choices"][0]["message"]["content"]
    assert sandbox_http.get("/_sandbox/openai/script").json() == {"answers": ["refusal"]}
    assert chat(sandbox_http, body()).json()["choices"][0]["message"]["refusal"] == REFUSAL
    assert len(suggestions_of(chat(sandbox_http, body()))) == 3
    assert [r.answer for r in sandbox.app.openai_requests()] == ["wrong_schema", "refusal", "good"]


@pytest.mark.parametrize("answers", [["unknown_entity", "sarcasm"], ["slow:soon"], ["refusal:2"], "refusal",
                                     [3]])
def test_sandbox_openai_script_refuses_unknown_answers(sandbox: SandboxServer, sandbox_http: httpx.Client,
                                                       answers: Any) -> None:
    sandbox.app.openai_script(["refusal"])

    answer = sandbox_http.post("/_sandbox/openai/script", json={"answers": answers})

    assert answer.status_code == 400 and answer.json()["error"]
    assert sandbox_http.get("/_sandbox/openai/script").json() == {"answers": ["refusal"]}
    with pytest.raises(ValueError, match="unknown answer"):
        sandbox.app.openai_script(["sarcasm"])


def test_sandbox_openai_script_is_cleared_on_request(sandbox: SandboxServer,
                                                     sandbox_http: httpx.Client) -> None:
    sandbox.app.openai_script(["refusal", "too_many"])

    assert sandbox_http.delete("/_sandbox/openai/script").json() == {"answers": []}
    assert len(suggestions_of(chat(sandbox_http, body()))) == 3


# --- keys, models and bodies ------------------------------------------------------------------------

def test_chat_completion_with_a_wrong_key_is_refused_with_the_key_masked(sandbox: SandboxServer) -> None:
    wrong = "sk-proj-wrongwrongwrongwrong1234"
    with (openai.OpenAI(base_url=f"{sandbox.base_url}/openai/v1", api_key=wrong, max_retries=0) as stranger,
          pytest.raises(openai.AuthenticationError) as refused):
        create(stranger)

    assert refused.value.status_code == 401 and refused.value.code == "invalid_api_key"
    assert refused.value.body == {
        "message": f"Incorrect API key provided: sk-proj-{'*' * (len(wrong) - 12)}1234. You can find your "
                   "API key at https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
    assert wrong not in str(refused.value.body)


def test_chat_completion_without_a_key_says_how_to_send_one(sandbox_http: httpx.Client) -> None:
    answer = chat(sandbox_http, body(), key=None)

    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["message"].startswith("You didn't provide an API key.")
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, None)


def test_chat_completion_with_a_short_wrong_key_shows_only_its_ends(sandbox_http: httpx.Client) -> None:
    message = chat(sandbox_http, body(), key="sk-wrong").json()["error"]["message"]

    assert message.startswith("Incorrect API key provided: sk****ng. ")


def test_chat_completion_for_an_unknown_model_is_not_found(sandbox_http: httpx.Client) -> None:
    answer = chat(sandbox_http, body(model="gpt-9-mega"))

    assert answer.status_code == 404
    assert answer.json() == {"error": {
        "message": "The model `gpt-9-mega` does not exist or you do not have access to it.",
        "type": "invalid_request_error", "param": None, "code": "model_not_found"}}
    assert chat(sandbox_http, body(model="sandbox-tiny")).json()["model"] == "sandbox-tiny"


def test_models_are_listed_in_openais_shape(client: openai.OpenAI, sandbox_http: httpx.Client) -> None:
    listed = sandbox_http.get("/openai/v1/models", headers={"Authorization": f"Bearer {KEY}"}).json()

    assert listed["object"] == "list"
    assert [m["id"] for m in listed["data"]] == ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"]
    assert all(set(m) == {"id", "object", "created", "owned_by"} and m["object"] == "model"
               for m in listed["data"])
    assert [m.id for m in client.models.list()][0] == "gpt-4o-mini"
    assert sandbox_http.get("/openai/v1/models").status_code == 401


def without(field: str) -> dict[str, Any]:
    return {k: v for k, v in body().items() if k != field}


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "suggestions", "strict": True, "schema": schema}}


@pytest.mark.parametrize(("payload", "param", "code", "message"), [
    (without("messages"), "messages", "missing_required_parameter",
     "Missing required parameter: 'messages'."),
    (body(messages="hello"), "messages", "invalid_type", "expected an array, but got a string instead"),
    (body(messages=[]), "messages", "empty_array", "empty array"),
    (body(messages=["hello"]), "messages[0]", "invalid_type", "expected an object"),
    (body(messages=[{"content": "hi"}]), "messages[0].role", "missing_required_parameter", "role"),
    (body(messages=[{"role": "robot", "content": "hi"}]), "messages[0].role", "invalid_value",
     "Invalid value: 'robot'."),
    (body(messages=[{"role": "user"}]), "messages[0].content", "missing_required_parameter", "content"),
    (body(messages=[{"role": "user", "content": 42}]), "messages[0].content", "invalid_type",
     "expected one of a string or array of objects, but got an integer instead"),
    (body(response_format={"type": "xml"}), "response_format.type", "invalid_value", "Invalid value: 'xml'."),
    (body(response_format={"type": "json_schema"}), "response_format.json_schema",
     "missing_required_parameter", "response_format.json_schema"),
    (body(response_format=strict_schema({"type": "object", "properties": {"a": {"type": "string"}},
                                         "required": ["a"]})), "response_format", None,
     "Invalid schema for response_format 'suggestions': In context=(), 'additionalProperties' is required to "
     "be supplied and to be false."),
    (body(response_format=strict_schema({**SCHEMA, "$defs": {"Suggestion": {**SUGGESTION,
                                                                             "required": ["claim"]}}})),
     "response_format", None,
     "In context=('$defs', 'Suggestion'), 'required' is required to be supplied and to be an array including "
     "every key in properties. Missing 'evidence'."),
    (body(temperature=3), "temperature", "decimal_above_max_value", "Expected a value <= 2, but got 3"),
    (body(max_completion_tokens=0), "max_completion_tokens", "integer_below_min_value", ">= 1"),
])
def test_chat_completion_refuses_a_bad_body_naming_the_param(
        sandbox: SandboxServer, sandbox_http: httpx.Client, payload: dict[str, Any], param: str,
        code: str | None, message: str) -> None:
    sandbox.app.openai_script(["refusal"])

    answer = chat(sandbox_http, payload)

    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert message in error["message"]
    assert sandbox_http.get("/_sandbox/openai/script").json() == {"answers": ["refusal"]}  # not used up


def test_chat_completion_body_that_is_not_json_is_refused(sandbox_http: httpx.Client) -> None:
    answer = sandbox_http.post(CHAT, content=b"{nope", headers={"Authorization": f"Bearer {KEY}",
                                                                 "Content-Type": "application/json"})

    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("We could not parse the JSON body of your request.")


# --- the request log and describe() ---------------------------------------------------------------------

def test_sandbox_openai_requests_records_each_request_without_its_key(sandbox: SandboxServer,
                                                                      client: openai.OpenAI,
                                                                      sandbox_http: httpx.Client) -> None:
    create(client)
    chat(sandbox_http, body(model="gpt-9-mega"))

    logged = sandbox_http.get("/_sandbox/openai/requests").json()

    assert [(r["method"], r["path"], r["status"]) for r in logged] == [
        ("POST", CHAT, 200), ("POST", CHAT, 404)]
    first = logged[0]
    assert first["body"]["messages"] == messages() and first["body"]["response_format"] == RESPONSE_FORMAT
    assert first["body"]["max_completion_tokens"] == 4000 and first["answer"] == "good"
    assert "authorization" not in first["headers"] and first["headers"]["content-type"] == "application/json"
    assert KEY not in json.dumps(logged)
    assert first["received_at"].startswith("2026-11-26T12:00:00")
    [python_view, _] = sandbox.app.openai_requests()
    assert python_view.body == first["body"] and python_view.total_tokens > 0
    assert sandbox_http.delete("/_sandbox/openai/requests").json() == {"cleared": True}
    assert sandbox.app.openai_requests() == []


def test_sandbox_describes_the_openai_endpoint(sandbox: SandboxServer, sandbox_http: httpx.Client) -> None:
    described = sandbox_http.get("/_sandbox").json()["openai"]

    assert described == {"base_url": f"{sandbox.base_url}/openai/v1", "api_key": KEY, "model": "gpt-4o-mini"}
    with openai.OpenAI(base_url=described["base_url"], api_key=described["api_key"], max_retries=0) as made:
        assert made.chat.completions.create(model=described["model"], messages=messages()).choices


# --- faults --------------------------------------------------------------------------------------------

def test_chat_completion_rate_limit_is_a_429_with_retry_after(sandbox: SandboxServer,
                                                             client: openai.OpenAI) -> None:
    sandbox.app.faults.add(FaultRule("rate_limit", platform="openai", nth=1, times=5))

    with pytest.raises(openai.RateLimitError) as limited:
        create(client)

    error = limited.value
    assert error.status_code == 429 and error.code == "rate_limit_exceeded" and error.type == "requests"
    assert error.message.startswith("Error code: 429")
    assert "Rate limit reached for gpt-4o-mini in organization org-sandbox on requests per min (RPM)" in str(
        error.body)
    headers = error.response.headers
    assert headers["retry-after"] == "1" and headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-request-id"].startswith("req_")
    assert [r.answer for r in sandbox.app.openai_requests()] == ["fault:rate_limit"]


def test_chat_completion_rate_limit_is_retried_by_the_client_after_retry_after(
        sandbox: SandboxServer) -> None:
    sandbox.app.faults.add(FaultRule("rate_limit", platform="openai", nth=1))
    sandbox.app.openai_script(["refusal"])

    with openai.OpenAI(base_url=f"{sandbox.base_url}/openai/v1", api_key=KEY, max_retries=2) as patient:
        started = time.monotonic()
        message = create(patient).choices[0].message

    assert time.monotonic() - started >= 1.0
    assert message.refusal == REFUSAL  # the script is kept for the request that is answered
    assert [r.status for r in sandbox.app.openai_requests()] == [429, 200]


@pytest.mark.parametrize(("fault", "status", "kind", "code"), [
    ("server_error", 500, "server_error", None), ("unavailable", 503, "server_error", None),
    ("expired_token", 401, "invalid_request_error", "invalid_api_key"),
    ("revoked_token", 401, "invalid_request_error", "invalid_api_key"),
    ("permission", 403, "invalid_request_error", "model_not_found"),
    ("reduce_data", 500, "server_error", None)])
def test_chat_completion_faults_answer_in_openais_shape(sandbox_http: httpx.Client, fault: str, status: int,
                                                        kind: str, code: str | None) -> None:
    answer = chat(sandbox_http, body(), **{"X-Sandbox-Fault": fault})

    assert answer.status_code == status
    error = answer.json()["error"]
    assert (error["type"], error["param"], error["code"]) == (kind, None, code) and error["message"]


def test_chat_completion_server_error_reaches_the_client_as_an_internal_server_error(
        sandbox: SandboxServer, client: openai.OpenAI) -> None:
    sandbox.app.faults.add(FaultRule("server_error", platform="openai", nth=1))

    with pytest.raises(openai.InternalServerError) as failed:
        create(client)

    assert failed.value.status_code == 500
    assert failed.value.body == {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error", "param": None, "code": None}


def test_chat_completion_slow_fault_times_the_client_out(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APITimeoutError):
        create(client, timeout=0.3, extra_headers={"X-Sandbox-Fault": "slow;delay=1"})


# The client turns a body cut short into a connection error, but lets a 200 whose body is not JSON
# escape as the JSONDecodeError itself (not an openai.OpenAIError): callers must expect both.
@pytest.mark.parametrize(("fault", "error"), [("truncated", openai.APIConnectionError),
                                              ("malformed", json.JSONDecodeError)])
def test_chat_completion_broken_bodies_reach_the_client_as_errors(client: openai.OpenAI, fault: str,
                                                                  error: type[Exception]) -> None:
    with pytest.raises(error):
        create(client, extra_headers={"X-Sandbox-Fault": fault})


def test_openai_fault_rules_match_the_openai_platform_only(sandbox: SandboxServer,
                                                          sandbox_http: httpx.Client) -> None:
    sandbox_http.post("/_sandbox/faults", json={"kind": "unavailable", "platform": "openai", "nth": 1})

    assert sandbox_http.post("/email/resend/emails", json={}).status_code != 503
    assert chat(sandbox_http, body()).status_code == 503
    assert chat(sandbox_http, body()).status_code == 200
