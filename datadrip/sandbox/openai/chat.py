"""The sandbox's OpenAI-compatible chat endpoint: keys, validation, usage, faults, scripted answers.

  POST {base}/openai/v1/chat/completions   ([ai] base_url = {base}/openai/v1)
  GET  {base}/openai/v1/models
  GET  {base}/_sandbox/openai/requests     every request received there (DELETE forgets them)
  GET|POST|DELETE {base}/_sandbox/openai/script   answers for the next chat completions, FIFO:
       POST {"answers": ["unknown_entity", "slow:2.5", …]} replaces the queue (400 on unknown names)

An answer (built in answers.py) reads the <account_data> JSON block in the last user message
(DataDrip's prompt contract). The "good" one, served when the script is empty, has one suggestion
per finding (same type, entity, score, budget change and evidence; reworded claim and action) and a
"budget" one for the best-ROAS campaign with conversions that no finding names (none if there is no
such campaign), cut to max_suggestions. The others in ANSWERS are the good one with one
deterministic flaw each, for guardrail tests, "empty": no suggestion at all, and "contradicts": the
good one plus a budget raise for the campaign a finding flags (contradicting its budget cut). A
scripted answer is used up only by a request that is answered (a slow one even if its client gave up
waiting): faults, wrong keys and bad bodies leave the script as it was. Python: Sandbox.openai_script() and
openai_requests().
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

# The answers live in answers.py; the names are kept here too, where callers and tests find them.
from datadrip.sandbox.openai.answers import ANSWERS as ANSWERS
from datadrip.sandbox.openai.answers import INJECTED_ACTION as INJECTED_ACTION
from datadrip.sandbox.openai.answers import MALFORMED as MALFORMED
from datadrip.sandbox.openai.answers import REFUSAL as REFUSAL
from datadrip.sandbox.openai.answers import UNKNOWN_REF as UNKNOWN_REF
from datadrip.sandbox.openai.answers import account_data as account_data
from datadrip.sandbox.openai.answers import answer as answer
from datadrip.sandbox.openai.answers import message_text
from datadrip.sandbox.openai.answers import suggestions as suggestions
from datadrip.sandbox.state import ChatRequest, SandboxContext
from datadrip.sandbox.web import Request, Response, Router

KNOWN_MODELS = {"gpt-4o-mini": 1721172741, "gpt-4o": 1715367049, "gpt-4.1-mini": 1744318173,
                "gpt-4.1": 1744316542}  # id: created (Unix time), as GET /models lists them
ROLES = ("system", "assistant", "user", "function", "tool", "developer")
LIMIT_REQUESTS, LIMIT_TOKENS = 500, 200_000  # per minute, as for a tier-1 gpt-4o-mini key
_SCHEMA_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NO_KEY = ("You didn't provide an API key. You need to provide your API key in an Authorization header "
           "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
           "username) if you're accessing the API from your browser and are prompted for a username and "
           "password. You can obtain an API key from https://platform.openai.com/account/api-keys.")
_NOT_JSON = ("We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
             "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was "
             "not valid JSON.)")
_JSON_TYPES = {bool: "a boolean", int: "an integer", float: "a decimal", str: "a string", list: "an array",
               dict: "an object", type(None): "null"}
Problem = tuple[str, str | None, str | None]  # message, param, code of a 400


def register(router: Router, sandbox: SandboxContext) -> None:
    router.add("POST", r"/openai/v1/chat/completions", lambda request, _: _logged(
        request, sandbox, lambda record: chat_completions(request, sandbox, record)))
    router.add("GET", r"/openai/v1/models", lambda request, _: _logged(
        request, sandbox, lambda _: _models(request, sandbox)))
    router.add("GET", r"/_sandbox/openai/requests", lambda _, __: Response.json(
        [summary(record) for record in requests(sandbox)]))
    router.add("DELETE", r"/_sandbox/openai/requests", lambda _, __: _forget(sandbox))
    router.add("GET", r"/_sandbox/openai/script", lambda _, __: Response.json(
        {"answers": list(sandbox.state.openai_script)}))
    router.add("POST", r"/_sandbox/openai/script", lambda request, _: _set_script(request, sandbox))
    router.add("DELETE", r"/_sandbox/openai/script", lambda request, _: _set_script(request, sandbox))


# --- the sandbox's controls -------------------------------------------------------------------------

def set_script(sandbox: SandboxContext, answers: list[str]) -> None:
    """Replace the queue of answers for the next chat completions; ValueError on an unknown name."""
    for entry in answers:
        parse_answer(entry)
    with sandbox.state.lock:
        sandbox.state.openai_script[:] = answers


def parse_answer(answer: object) -> tuple[str, float]:
    """A script entry as (name, delay): "slow:2.5" waits 2.5 s, "slow" 5 s, the others none."""
    name, _, delay = str(answer).partition(":")
    if not isinstance(answer, str) or name not in ANSWERS or (delay and name != "slow"):
        raise ValueError(f"unknown answer {answer!r}; known: {', '.join(ANSWERS)} (and slow:SECONDS)")
    try:
        seconds = float(delay) if delay else 5.0 if name == "slow" else 0.0
    except ValueError:
        raise ValueError(f"bad delay in {answer!r}: slow:SECONDS, e.g. slow:2.5") from None
    if not 0 <= seconds < 600:
        raise ValueError(f"bad delay in {answer!r}: between 0 and 600 seconds")
    return name, seconds


def requests(sandbox: SandboxContext) -> list[ChatRequest]:
    with sandbox.state.lock:
        return list(sandbox.state.openai_requests)


def summary(record: ChatRequest) -> dict[str, Any]:
    return {**vars(record), "received_at": record.received_at.isoformat()}


def _set_script(request: Request, sandbox: SandboxContext) -> Response:
    try:
        answers = [] if request.method == "DELETE" else (request.json() or {}).get("answers")
        if not isinstance(answers, list):
            raise ValueError('the body must be {"answers": ["good", "unknown_entity", …]}')
        set_script(sandbox, answers)
    except (ValueError, AttributeError) as exc:
        return Response.json({"error": str(exc)}, 400)
    return Response.json({"answers": answers})


def _forget(sandbox: SandboxContext) -> Response:
    with sandbox.state.lock:
        sandbox.state.openai_requests.clear()
    return Response.json({"cleared": True})


def _logged(request: Request, sandbox: SandboxContext, handle: Callable[[ChatRequest], Response]) -> Response:
    """Record the request before answering it, so a slow answer is visible while it is made."""
    record = _record(request, sandbox)
    response = handle(record)
    record.status = response.status
    return response


def _record(request: Request, sandbox: SandboxContext, answer: str | None = None) -> ChatRequest:
    body = _json_body(request)
    headers = {k: v for k, v in request.headers.items() if k != "authorization"}
    record = ChatRequest(request.method, request.path, body, headers, sandbox.state.clock.now(),
                         answer=answer)
    with sandbox.state.lock:
        sandbox.state.openai_requests.append(record)
    return record


# --- errors -----------------------------------------------------------------------------------------

def openai_error(status: int, message: str, kind: str = "invalid_request_error", *, param: str | None = None,
                 code: str | None = None, headers: list[tuple[str, str]] | None = None) -> Response:
    """OpenAI's error body: {"error": {"message", "type", "param", "code"}}, with a request id."""
    return Response.json({"error": {"message": message, "type": kind, "param": param, "code": code}},
                         status, [("x-request-id", _request_id()), *(headers or [])])


def mask_key(key: str) -> str:
    """A key as OpenAI quotes it: its first 8 and last 4 characters (fewer for a short one)."""
    head, tail = (8, 4) if len(key) >= 16 else (2, 2) if len(key) > 4 else (0, 0)
    return key[:head] + "*" * (len(key) - head - tail) + key[len(key) - tail:]


def _key_error(request: Request) -> Response:
    key = request.bearer()
    if not key:
        return openai_error(401, _NO_KEY)
    return openai_error(401, f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
                             "https://platform.openai.com/account/api-keys.", code="invalid_api_key")


def openai_fault(kind: str, request: Request, sandbox: SandboxContext) -> Response:
    """OpenAI's own answer for a fault of this kind (kinds it has no answer for get a 500)."""
    record = _record(request, sandbox, f"fault:{kind}")
    body = _json_body(request)
    model = body.get("model") if isinstance(body, dict) else None
    model = model if isinstance(model, str) else "gpt-4o-mini"
    if kind == "rate_limit":
        response = openai_error(
            429, f"Rate limit reached for {model} in organization org-sandbox on requests per min (RPM): "
                 "Limit 3, Used 3, Requested 1. Please try again in 1s. Visit "
                 "https://platform.openai.com/account/rate-limits to learn more.", "requests",
            code="rate_limit_exceeded", headers=[("retry-after", "1"), *_rate_headers(3, 0, "1s", 0)])
    elif kind in ("expired_token", "revoked_token"):  # a key does not expire: a revoked one is wrong
        response = _key_error(request)
    elif kind == "permission":
        response = openai_error(403, f"Project `proj_sandbox` does not have access to model `{model}`",
                                code="model_not_found")
    elif kind == "unavailable":
        response = openai_error(503, "The server is overloaded or not ready yet.", "server_error")
    else:
        response = openai_error(500, "The server had an error while processing your request. Sorry "
                                     "about that!", "server_error")
    record.status = response.status
    return response


def _rate_headers(limit: int, remaining: int, reset: str, tokens: int) -> list[tuple[str, str]]:
    token_reset = f"{math.ceil(60_000 * tokens / LIMIT_TOKENS)}ms"
    return [("x-ratelimit-limit-requests", str(limit)), ("x-ratelimit-remaining-requests", str(remaining)),
            ("x-ratelimit-limit-tokens", str(LIMIT_TOKENS)),
            ("x-ratelimit-remaining-tokens", str(LIMIT_TOKENS - tokens)),
            ("x-ratelimit-reset-requests", reset), ("x-ratelimit-reset-tokens", token_reset)]


def _request_id() -> str:
    return f"req_{secrets.token_hex(16)}"


def _json_body(request: Request) -> Any:
    try:
        return request.json()
    except ValueError:
        return None


# --- the endpoints ----------------------------------------------------------------------------------

def _models(request: Request, sandbox: SandboxContext) -> Response:
    if request.bearer() != sandbox.state.credentials.openai_api_key:
        return _key_error(request)
    data = [{"id": name, "object": "model", "created": created, "owned_by": "system"}
            for name, created in KNOWN_MODELS.items()]
    return Response.json({"object": "list", "data": data}, headers=[("x-request-id", _request_id())])


def chat_completions(request: Request, sandbox: SandboxContext, record: ChatRequest) -> Response:
    if request.bearer() != sandbox.state.credentials.openai_api_key:
        return _key_error(request)
    body = _json_body(request)
    problem = body_problem(body)
    if problem is not None:
        return openai_error(400, problem[0], param=problem[1], code=problem[2])
    if body["model"] not in KNOWN_MODELS and not body["model"].startswith("sandbox-"):
        return openai_error(404, f"The model `{body['model']}` does not exist or you do not have access to "
                                 "it.", code="model_not_found")
    with sandbox.state.lock:
        script = sandbox.state.openai_script
        name, delay = parse_answer(script.pop(0) if script else "good")
        recent = [r for r in sandbox.state.openai_requests if r.status == 200 and r.path == request.path
                  and (record.received_at - r.received_at).total_seconds() < 60]
    record.answer = name
    time.sleep(delay)
    content, refusal = answer(name, account_data(body["messages"]))
    finish = "stop"
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if content is not None and isinstance(limit, int) and tokens(content) > limit:
        content, finish = content[:limit * 4], "length"  # the model stops mid-answer, as OpenAI's do
    prompt = tokens("".join(message_text(m.get("content")) for m in body["messages"]))
    completion = tokens(content if content is not None else refusal or "")
    record.total_tokens = prompt + completion
    now = int(sandbox.state.clock.now().timestamp())
    completion_id = "chatcmpl-" + "".join(c for c in secrets.token_urlsafe(40) if c.isalnum())[:29]
    return Response.json({
        "id": completion_id, "object": "chat.completion", "created": now, "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": refusal,
                                             "annotations": []},
                     "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0,
                                                "rejected_prediction_tokens": 0}},
        "service_tier": "default", "system_fingerprint": "fp_sandbox",
    }, headers=[("x-request-id", _request_id()),
                *_rate_headers(LIMIT_REQUESTS, max(0, LIMIT_REQUESTS - 1 - len(recent)),
                               f"{60_000 // LIMIT_REQUESTS}ms", prompt + completion)])


def tokens(text: str) -> int:
    """The sandbox's deterministic stand-in for a tokenizer: one token per four characters."""
    return math.ceil(len(text) / 4)


# --- validation as OpenAI does it -------------------------------------------------------------------

def body_problem(body: Any) -> Problem | None:
    """The first thing OpenAI would refuse in a chat-completions body, or None."""
    if not isinstance(body, dict):
        return _NOT_JSON, None, None
    if "model" not in body:
        return "you must provide a model parameter", None, None
    messages = body.get("messages")
    if messages is None:
        return "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
    response_format = body.get("response_format")
    problem = (_type_problem("model", body["model"], str, "a string")
               or _type_problem("messages", messages, list, "an array") or _messages_problem(messages)
               or _response_format_problem(response_format))
    if (problem is None and isinstance(response_format, dict) and response_format.get("type") == "json_object"
            and "json" not in json.dumps(messages).lower()):
        problem = ("'messages' must contain the word 'json' in some form, to use 'response_format' of "
                   "type 'json_object'.", "messages", None)
    limits = (("temperature", 0, 2), ("max_tokens", 1, None), ("max_completion_tokens", 1, None))
    for name, low, high in limits:
        value, kind = body.get(name), "decimal" if name == "temperature" else "integer"
        if problem is None and value is not None:
            problem = _type_problem(name, value, float if kind == "decimal" else int, f"a {kind}")
        if problem is None and value is not None and (value < low or (high is not None and value > high)):
            side, bound, code = (("below minimum", f">= {low}", "below_min") if value < low
                                 else ("above maximum", f"<= {high}", "above_max"))
            problem = (f"Invalid '{name}': {kind} {side} value. Expected a value {bound}, but got {value} "
                       "instead.", name, f"{kind}_{code}_value")
    if problem is None and body.get("stream"):
        problem = ("The sandbox does not stream: call without stream=true.", "stream", "unsupported_value")
    return problem


def _type_problem(param: str, value: Any, wanted: type, described: str) -> Problem | None:
    fits = isinstance(value, wanted) or (wanted is float and isinstance(value, int))
    if fits and not isinstance(value, bool):
        return None
    return (f"Invalid type for '{param}': expected {described}, but got {_json_type(value)} instead.", param,
            "invalid_type")


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "an object")  # the words OpenAI's messages use


def _messages_problem(messages: Any) -> Problem | None:
    if not messages:
        return ("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty "
                "array instead.", "messages", "empty_array")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            return _type_problem(where, message, dict, "an object")
        role, content = message.get("role"), message.get("content")
        if role is None:
            return (f"Missing required parameter: '{where}.role'.", f"{where}.role",
                    "missing_required_parameter")
        if role not in ROLES:
            return (f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
                    "'function', 'tool', and 'developer'.", f"{where}.role", "invalid_value")
        if content is None and role != "assistant":
            return (f"Missing required parameter: '{where}.content'.", f"{where}.content",
                    "missing_required_parameter")
        parts_ok = isinstance(content, list) and all(isinstance(p, dict) and isinstance(p.get("type"), str)
                                                     for p in content)
        if content is not None and not isinstance(content, str) and not parts_ok:
            return (f"Invalid type for '{where}.content': expected one of a string or array of objects, but "
                    f"got {_json_type(content)} instead.", f"{where}.content", "invalid_type")
    return None


def _response_format_problem(response_format: Any) -> Problem | None:
    if response_format is None:
        return None
    if not isinstance(response_format, dict):
        return _type_problem("response_format", response_format, dict, "an object")
    kind = response_format.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        return (f"Invalid value: '{kind}'. Supported values are: 'json_object', 'json_schema', and 'text'.",
                "response_format.type", "invalid_value")
    if kind != "json_schema":
        return None
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict):
        return ("Missing required parameter: 'response_format.json_schema'.", "response_format.json_schema",
                "missing_required_parameter")
    name = spec.get("name")
    if not isinstance(name, str) or not _SCHEMA_NAME.fullmatch(name):
        return ("Invalid 'response_format.json_schema.name': string does not match pattern. Expected a "
                "string that matches the pattern '^[a-zA-Z0-9_-]+$'.", "response_format.json_schema.name",
                "invalid_value")
    schema = spec.get("schema")
    if spec.get("strict") and isinstance(schema, dict):
        if schema.get("type") != "object":
            return (f"Invalid schema for response_format '{name}': schema must be a JSON Schema of 'type: "
                    f"\"object\"', got 'type: \"{schema.get('type')}\"'.", "response_format", None)
        found = _strict_problem(schema, ())
        return None if found is None else (f"Invalid schema for response_format '{name}': {found}",
                                           "response_format", None)
    return None


def _strict_problem(schema: Any, context: tuple[str, ...]) -> str | None:
    """What strict mode refuses: an object that allows extra keys or leaves a property optional."""
    if not isinstance(schema, dict):
        return None
    properties = schema.get("properties")
    if schema.get("type") == "object" or isinstance(properties, dict):
        if schema.get("additionalProperties") is not False:
            return (f"In context={context!r}, 'additionalProperties' is required to be supplied and to be "
                    "false.")
        required = schema["required"] if isinstance(schema.get("required"), list) else []
        missing = [key for key in properties or {} if key not in required]
        if missing:
            return (f"In context={context!r}, 'required' is required to be supplied and to be an array "
                    f"including every key in properties. Missing '{missing[0]}'.")
    children: list[tuple[tuple[str, ...], Any]] = [
        (context + (key, name), child) for key in ("properties", "$defs", "definitions")
        for name, child in (schema.get(key) or {}).items()]
    children += [(context + ("items",), schema.get("items"))]
    children += [(context + (key, str(i)), child) for key in ("anyOf", "allOf")
                 for i, child in enumerate(schema.get(key) or [])]
    return next((found for where, child in children if (found := _strict_problem(child, where))), None)
