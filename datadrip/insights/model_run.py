"""One client's question to the model, with the cache, the daily limits and the guardrails around it.

Returns the vetted suggestions, or none and the reason — which the caller turns into "these are
the heuristics' suggestions, because …". A failed or refused call still counts as a request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from datadrip.core.config import Loaded
from datadrip.db.models import Agency
from datadrip.insights import llm, usage
from datadrip.insights.facts import ClientFacts
from datadrip.insights.findings import Finding
from datadrip.insights.guardrails import vet
from datadrip.insights.usage import CachedAnswer
from datadrip.secrets.store import resolve_secret
from datadrip.workbook.session import open_session

MAX_COMPLETION_TOKENS = 1500
OPENAI_URL = "https://api.openai.com/v1"


@dataclass
class Asked:
    findings: list[Finding] = field(default_factory=list)
    reason: str | None = None  # why there are no findings from the model
    cached: bool = False
    answered_nothing: bool = False  # a clean answer with no suggestion: a quiet day, not a failure
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def ask_for_suggestions(loaded: Loaded, agency: Agency, facts: ClientFacts, heuristic: list[Finding],
                        dismissed: list[dict[str, str]], today: dt.date, *, explicit: bool) -> Asked:
    ai = loaded.settings.ai
    api_key = resolve_secret(loaded, "ai.api_key")
    if not wants_model(loaded, api_key):
        if not explicit:
            return Asked()  # auto with nothing configured: the heuristics are the engine, not a fallback
        return Asked(reason=f"no API key for {OPENAI_URL}: set one with 'datadrip secret set ai.api_key' "
                            "or OPENAI_API_KEY")
    bound = Decimal(ai.max_budget_change_pct)
    settings = llm.ModelSettings(ai.base_url, ai.model, api_key, float(ai.timeout_seconds), ai.attempts,
                                 ai.max_suggestions, bound, MAX_COMPLETION_TOKENS)
    messages = llm.build_messages(facts, heuristic, dismissed, max_suggestions=ai.max_suggestions,
                                  max_budget_change_pct=bound)
    key = usage.cache_key(ai.base_url, ai.model, messages, llm.ANSWER_SCHEMA)
    with open_session(loaded) as wb:
        hit = usage.cached(wb.session, key)
    asked = Asked(cached=hit is not None)
    if hit is None:
        try:
            with open_session(loaded, write=True) as wb:
                usage.reserve_request(wb.session, agency, today, ai, messages, MAX_COMPLETION_TOKENS)
        except usage.LimitReachedError as exc:
            return Asked(reason=str(exc))
        try:
            answer = llm.ask_model(settings, messages)
        except llm.ModelError as exc:
            return Asked(reason=f"the model failed: {exc}")  # counted as a request, no tokens known
        hit = usage.CachedAnswer(answer.content, answer.prompt_tokens, answer.completion_tokens)
    try:
        suggestions = llm.parse_suggestions(hit.content)
    except llm.ModelError as exc:
        if not asked.cached:
            _count(loaded, agency, today, key, hit, keep=False)
        return Asked(reason=f"the model's answer was unusable: {exc}")
    if not asked.cached:
        _count(loaded, agency, today, key, hit, keep=True)
    vetted = vet(suggestions, facts, max_budget_change_pct=bound, max_suggestions=ai.max_suggestions)
    asked.findings, asked.dropped, asked.notes = vetted.findings, vetted.dropped, vetted.notes
    if not vetted.findings:
        asked.answered_nothing = not vetted.dropped
        asked.reason = ("every suggestion of the model failed the guardrails" if vetted.dropped
                        else "the model made no suggestion")
    return asked


def wants_model(loaded: Loaded, api_key: str | None) -> bool:
    """auto: a key is set, or the server is not OpenAI's (a local server needs no key)."""
    return bool(api_key) or loaded.settings.ai.base_url.rstrip("/") != OPENAI_URL


def _count(loaded: Loaded, agency: Agency, today: dt.date, key: str, answer: CachedAnswer, *,
           keep: bool) -> None:
    """Record the answer's tokens at once, in a transaction of its own; `keep` a usable answer."""
    ai = loaded.settings.ai
    with open_session(loaded, write=True) as wb:
        usage.record_tokens(wb.session, agency, today, ai, answer.prompt_tokens, answer.completion_tokens)
        if keep:
            usage.remember(wb.session, agency, key, ai.model, answer)
