"""Cost control for the model engine: the answer cache, per-agency daily limits, usage and cost.

The cache key is a SHA-256 of the server, the model and the exact messages: the same client's
same data on the same day is the same prompt, so asking again costs nothing. Limits count the
agency's requests and tokens on its own calendar day. A request is counted before it is made, in a
transaction holding the agency's row, so concurrent runs cannot both take the last one; tokens are
checked with the prompt's estimated size and the answer's token cap, and recorded as the server
reports them (runs at the same moment may pass the token limit by one answer at most).
Costs are estimated from `[ai]` prices per million tokens, kept as integer micros of USD.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from datadrip.core.config import AiSettings
from datadrip.core.money import MICROS
from datadrip.db.models import Agency, LlmCache, LlmUsage, utcnow

CACHE_DAYS = 7
CHARS_PER_TOKEN = 4  # a common rule of thumb for English and JSON; only used to refuse early


@dataclass(frozen=True)
class CachedAnswer:
    content: str
    prompt_tokens: int
    completion_tokens: int


class LimitReachedError(Exception):
    """A daily limit would be passed by the next call; the message says which."""


def cache_key(base_url: str, model: str, messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
    text = json.dumps({"base_url": base_url.rstrip("/"), "model": model, "messages": messages,
                       "schema": schema}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def cached(session: Session, key: str) -> CachedAnswer | None:
    row = session.get(LlmCache, key)
    return None if row is None else CachedAnswer(row.content, row.prompt_tokens, row.completion_tokens)


def remember(session: Session, agency: Agency, key: str, model: str, answer: CachedAnswer) -> None:
    """Keep the answer; answers older than CACHE_DAYS go (a prompt holds its day, so they would
    never be asked for again)."""
    cutoff = utcnow() - dt.timedelta(days=CACHE_DAYS)
    session.execute(sa.delete(LlmCache).where(col(LlmCache.agency_id) == agency.id,
                                              col(LlmCache.created_at) < cutoff))
    if session.get(LlmCache, key) is None:
        session.add(LlmCache(key=key, agency_id=agency.id, model=model, content=answer.content,
                             prompt_tokens=answer.prompt_tokens, completion_tokens=answer.completion_tokens))


def today_usage(session: Session, agency: Agency, day: dt.date) -> LlmUsage:
    row = session.execute(sa.select(LlmUsage).where(col(LlmUsage.agency_id) == agency.id,
                                                     col(LlmUsage.day) == day)).scalars().first()
    return row or LlmUsage(agency_id=agency.id, day=day)


def check_limits(usage: LlmUsage, ai: AiSettings, messages: list[dict[str, str]],
                 max_completion_tokens: int) -> None:
    if usage.requests + 1 > ai.daily_request_limit:
        raise LimitReachedError(f"the agency's daily limit of {ai.daily_request_limit} model "
                                f"requests is used up ({usage.requests} today)")
    estimate = estimated_tokens(messages) + max_completion_tokens
    used = usage.prompt_tokens + usage.completion_tokens
    if used + estimate > ai.daily_token_limit:
        raise LimitReachedError(f"the agency's daily limit of {ai.daily_token_limit:,} tokens would "
                                f"be passed ({used:,} used today, about {estimate:,} needed)")


def estimated_tokens(messages: list[dict[str, str]]) -> int:
    return sum(len(message.get("content") or "") for message in messages) // CHARS_PER_TOKEN + 1


def cost_micros(ai: AiSettings, prompt_tokens: int, completion_tokens: int) -> int:
    """USD micros: tokens × price per million tokens (a price in dollars is micros per token)."""
    cost = Decimal(prompt_tokens) * ai.input_usd_per_million + \
        Decimal(completion_tokens) * ai.output_usd_per_million
    return int(cost.quantize(Decimal(1), ROUND_HALF_UP))


def reserve_request(session: Session, agency: Agency, day: dt.date, ai: AiSettings,
                    messages: list[dict[str, str]], max_completion_tokens: int) -> None:
    """Check the limits and count the request before it is made, in one write transaction that
    holds the agency's row: two runs at the same moment cannot both take the last request."""
    session.execute(sa.select(col(Agency.id)).where(col(Agency.id) == agency.id).with_for_update())
    usage = today_usage(session, agency, day)
    check_limits(usage, ai, messages, max_completion_tokens)
    usage.requests += 1
    session.add(usage)


def record_tokens(session: Session, agency: Agency, day: dt.date, ai: AiSettings, prompt_tokens: int,
                  completion_tokens: int) -> None:
    """The tokens the server reported for a request already counted, and their estimated cost."""
    usage = today_usage(session, agency, day)
    usage.prompt_tokens += prompt_tokens
    usage.completion_tokens += completion_tokens
    usage.cost_micros += cost_micros(ai, prompt_tokens, completion_tokens)
    session.add(usage)


@dataclass(frozen=True)
class UsageDay:
    agency: str
    day: dt.date
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_micros: int

    def record(self) -> dict[str, Any]:
        return {"agency": self.agency, "day": self.day, "requests": self.requests,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "tokens": self.prompt_tokens + self.completion_tokens,
                "cost": (Decimal(self.cost_micros) / MICROS).quantize(Decimal("0.000001")),
                "currency": "USD"}


def usage_days(session: Session, agencies: list[Agency], since: dt.date) -> list[UsageDay]:
    names = {agency.id: agency.name for agency in agencies}
    query = (sa.select(LlmUsage).where(col(LlmUsage.agency_id).in_(list(names)), col(LlmUsage.day) >= since)
             .order_by(col(LlmUsage.day).desc()))
    return [UsageDay(names[row.agency_id], row.day, row.requests, row.prompt_tokens,
                     row.completion_tokens, row.cost_micros) for row in session.execute(query).scalars()]
