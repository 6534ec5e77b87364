"""Guardrails: the model's suggestions checked against the workbook before any becomes a finding."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from datadrip.insights.facts import BASELINE, RECENT, ClientFacts, EntityFacts
from datadrip.insights.findings import LLM, Evidence, Finding
from datadrip.insights.llm import TYPES, Suggestion
from datadrip.money import minor_units

CLAIM_CHARS, ACTION_CHARS = 300, 400
RELATIVE_TOLERANCE = Decimal("0.01")
PERCENT_POINTS_TOLERANCE = Decimal("1.5")  # for a change between windows the model worked out itself
MONEY_METRICS = {"spend", "cpa"}
COUNT_METRICS = {"impressions", "clicks"}
SMALL_COUNT = 90  # "7 days", "top 3 ads", "28-day baseline": plain small counts need no evidence

_URL = re.compile(r"(?i)\b(?:https?|ftp)://|\bwww\.|\b[a-z0-9-]+\.(?:com|net|org|io|ly|co|in|ai|me|app|xyz|"
                  r"info|biz|site|link|shop|top|ru|cn)\b(?:/|\s|$|[.,;:!?)])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>|\[[^\]]*\]\([^)]*\)|```|&[a-z]+;|&#\d+;")
_INSTRUCTION = re.compile(
    r"(?i)\b(?:ignore|disregard|forget|override)\b.{0,30}\b(?:previous|prior|above|earlier|all|system|your)\b"
    r".{0,20}\b(?:instructions?|prompts?|rules?|messages?|guidelines)\b"
    r"|\bsystem prompt\b|\byou are now\b|\bnew instructions?\b|\bas instructed\b|\bjailbreak"
    r"|\bdeveloper mode\b|</?\s*account_data")
_SECRET = re.compile(r"(?i)\bapi[\s_-]?keys?\b|\bpass(?:word|wd|phrase)s?\b|\btokens?\b|\bsecret\b"
                     r"|\bcredentials?\b|\bbearer\b|\bsk-[a-z0-9_-]{6,}")
_PERCENT = re.compile(r"([-+−]?\d[\d,]*(?:\.\d+)?)\s*(?:%|per\s?cent\b)", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])[-+−]?\d[\d,]*(?:\.\d+)?(?![\w%])")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_REF = re.compile(r"\b(?:campaign|adset|ad):[\w-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass
class Vetted:
    """What survived, one sentence per suggestion dropped, and what was changed or cut."""

    findings: list[Finding] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Rejected(Exception):
    """Internal: a suggestion fails a guardrail; the message says which and why."""


def vet(suggestions: list[Suggestion], facts: ClientFacts, *, max_budget_change_pct: Decimal,
        max_suggestions: int) -> Vetted:
    """Keep the suggestions that name known entities, quote the workbook's own figures, stay within
    the budget limit and carry plain advice; never more than `max_suggestions`, highest impact first."""
    vetted = Vetted()
    limit = abs(max_budget_change_pct)
    seen: set[tuple[str, str]] = set()
    # Highest impact first, so a duplicate or a cut loses the less valuable one.
    ordered = sorted(enumerate(suggestions), key=lambda pair: (-_clamped(pair[1].impact_score), pair[0]))
    for number, suggestion in ordered:
        label = f"Suggestion {number + 1} ({_safe_ref(suggestion.entity_ref)})"
        try:
            finding = _vet_one(suggestion, facts, limit, seen)
        except _Rejected as reason:
            vetted.dropped.append(f"{label} was dropped: {reason}.")
            continue
        seen.add((finding.type, finding.entity_ref or ""))
        vetted.notes += [f"{label}: {note}" for note in finding.notes]
        vetted.findings.append(finding)
    if len(vetted.findings) > max(0, max_suggestions):
        cut = len(vetted.findings) - max(0, max_suggestions)
        vetted.findings = vetted.findings[:max(0, max_suggestions)]
        vetted.notes.append(f"{cut} more suggestion{'s' if cut > 1 else ''} passed the checks but "
                            f"{'were' if cut > 1 else 'was'} cut: [ai] max_suggestions is {max_suggestions}, "
                            "so only the highest-impact ones are kept.")
    return vetted


def _vet_one(suggestion: Suggestion, facts: ClientFacts, limit: Decimal,
             seen: set[tuple[str, str]]) -> Finding:
    if suggestion.type not in TYPES:
        raise _Rejected(f"its type {_quote(suggestion.type)} is none of {', '.join(TYPES)}")
    entity = facts.entities.get(suggestion.entity_ref)
    if entity is None:
        raise _Rejected("it names an entity that is not in the workbook for this client")
    if (suggestion.type, entity.ref) in seen:
        raise _Rejected(f"it repeats a {suggestion.type} suggestion already kept for the same entity")
    claim, action = _plain(suggestion.claim, CLAIM_CHARS), _plain(suggestion.action, ACTION_CHARS)
    if not claim or not action:
        raise _Rejected("its claim or action is empty")
    _check_text(claim, action)
    evidence = _check_evidence(suggestion, facts)
    notes: list[str] = []
    pct = _check_budget(suggestion, action, limit, notes)
    _check_numbers(claim, action, suggestion, facts, evidence, limit)
    impact = _clamped(suggestion.impact_score)
    if impact != suggestion.impact_score:
        notes.append(f"the model's impact score {suggestion.impact_score} was brought within 0-100")
    direction = "advice" if not pct else ("increase" if pct > 0 else "decrease")
    figures = {} if pct == suggestion.budget_change_pct else {
        "proposed_budget_change_pct": suggestion.budget_change_pct}
    return Finding(suggestion.type, LLM, entity.ref, entity.name, direction, claim, action, impact,
                   facts.recent.since, facts.recent.until, evidence, figures, pct, LLM, notes)


def _check_text(claim: str, action: str) -> None:
    for text in (claim, action):
        if _URL.search(text):
            raise _Rejected("its text holds a link or web address")
        if _EMAIL.search(text):
            raise _Rejected("its text holds an e-mail address")
        if _MARKUP.search(text):
            raise _Rejected("its text holds markup")
        if _INSTRUCTION.search(text):
            raise _Rejected("its text reads like instructions planted in the data")
        if _SECRET.search(text):
            raise _Rejected("its text mentions keys, passwords or tokens")


def _check_evidence(suggestion: Suggestion, facts: ClientFacts) -> list[Evidence]:
    """Every quoted figure must be the workbook's own; what is kept is the workbook's exact value."""
    if not suggestion.evidence:
        raise _Rejected("it quotes no evidence from the workbook")
    kept: list[Evidence] = []
    for item in suggestion.evidence:
        entity = facts.entities.get(item.entity_ref)
        if entity is None:
            raise _Rejected("its evidence names an entity that is not in the workbook for this client")
        if item.window not in (RECENT, BASELINE):
            raise _Rejected(f"its evidence names an unknown window {_quote(item.window)}")
        figures = entity.window(item.window).metrics(entity.currency)
        if item.metric not in figures:
            raise _Rejected(f"its evidence names an unknown metric {_quote(item.metric)}")
        actual = figures[item.metric]
        if actual is None:
            raise _Rejected(f"it quotes {item.metric} for {entity.ref} ({item.window}), "
                            "which the workbook cannot give (nothing to divide by)")
        if not _close(item.value, actual, _unit(item.metric, entity.currency)):
            raise _Rejected(f"it quotes {item.metric} {_number(item.value)} for {entity.ref} ({item.window}) "
                            f"but the workbook says {_number(actual)}")
        kept.append(Evidence(entity.ref, item.metric, item.window, actual))
    return kept


def _check_numbers(claim: str, action: str, suggestion: Suggestion, facts: ClientFacts,
                   evidence: list[Evidence], limit: Decimal) -> None:
    """Numbers in the text must be figures of the entities it rests on, changes between their
    windows, the proposed budget change, small counts (days, ads), or in the action a change
    within the budget limit: nothing made up."""
    entities = {ref: facts.entities[ref] for ref in {suggestion.entity_ref, *(e.entity_ref for e in evidence)}
                if ref is not None and ref in facts.entities}
    known = [value for entity in entities.values() for value in _figures(entity)]
    changes = [change for entity in entities.values() for change in _changes(entity)]
    if suggestion.budget_change_pct is not None:
        changes.append(abs(suggestion.budget_change_pct))
    known += [Decimal(facts.recent.days), Decimal(facts.baseline.days)]
    text = _REF.sub(" ", _DATE.sub(" ", claim + " \n " + action))
    action_percents = {match.group(0) for match in _PERCENT.finditer(action)}
    for match in _PERCENT.finditer(text):
        value = _decimal(match.group(1))
        if value is None or (match.group(0) in action_percents and abs(value) <= limit):
            continue
        if not (any(_close(value, figure, Decimal("0.01")) for figure in known)
                or any(abs(abs(value) - change) <= max(PERCENT_POINTS_TOLERANCE, change * Decimal("0.05"))
                       for change in changes)):
            raise _Rejected(f"its text quotes {match.group(0).strip()}, which the workbook does not back")
    for match in _NUMBER.finditer(_PERCENT.sub(" ", text)):
        value = _decimal(match.group(0))
        if value is None or (value == value.to_integral_value() and abs(value) <= SMALL_COUNT):
            continue
        if not any(_close(abs(value), abs(figure), Decimal("0.01")) for figure in known):
            raise _Rejected(f"its text quotes {match.group(0)}, which is not a figure in the workbook")


def _check_budget(suggestion: Suggestion, action: str, limit: Decimal, notes: list[str]) -> Decimal | None:
    """A budget change beyond the limit is capped, unless the action repeats it (contradicting the cap)."""
    about_budget = suggestion.type == "budget" or suggestion.budget_change_pct is not None
    if about_budget:
        for match in _PERCENT.finditer(action):
            value = _decimal(match.group(1))
            if value is not None and abs(value) > limit:
                raise _Rejected(f"its action changes a budget by {match.group(0).strip()}, beyond the "
                                f"±{_number(limit)} % allowed by [ai] max_budget_change_pct")
    pct = suggestion.budget_change_pct
    if pct is None or abs(pct) <= limit:
        return pct
    capped = limit if pct > 0 else -limit
    notes.append(f"the model proposed {_signed(pct)} %; capped at {_signed(capped)} % "
                 "by [ai] max_budget_change_pct")
    return capped


def _figures(entity: EntityFacts) -> list[Decimal]:
    return [Decimal(value) for window in (entity.recent, entity.baseline)
            for value in window.metrics(entity.currency).values() if value is not None]


def _changes(entity: EntityFacts) -> list[Decimal]:
    """Each metric's change from baseline to recent, in percent (absolute)."""
    recent, baseline = entity.recent.metrics(entity.currency), entity.baseline.metrics(entity.currency)
    out = []
    for metric, now in recent.items():
        before = baseline.get(metric)
        if now is not None and before:
            out.append(abs((Decimal(now) - Decimal(before)) / Decimal(before) * 100))
    return out


def _unit(metric: str, currency: str) -> Decimal:
    if metric in MONEY_METRICS:
        return Decimal(1).scaleb(-minor_units(currency))
    return Decimal(1) if metric in COUNT_METRICS else Decimal("0.01")


def _close(quoted: Decimal, actual: Decimal | int, unit: Decimal) -> bool:
    actual = Decimal(actual)
    return abs(quoted - actual) <= max(abs(actual) * RELATIVE_TOLERANCE, unit)


def _clamped(score: int) -> int:
    return max(0, min(100, int(score)))


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", "").replace("−", "-"))
    except InvalidOperation:
        return None


def _plain(text: str, limit: int) -> str:
    """Control and bidirectional characters out, whitespace collapsed, cut at a word near `limit`."""
    text = " ".join(_CONTROL.sub(" ", text).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2:] else cut).rstrip(" ,;:") + "…"


def _safe_ref(ref: str) -> str:
    return ref if re.fullmatch(r"(?:campaign|adset|ad):[\w-]{1,40}", ref) else "an unrecognised entity"


def _quote(text: str) -> str:
    cleaned = re.sub(r"[^\w .-]", "", text)[:30]
    return f"'{cleaned}'"


def _number(value: Decimal | int) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _signed(value: Decimal) -> str:
    return ("+" if value > 0 else "") + format(value.normalize(), "f")


__all__ = ["Vetted", "vet"]
