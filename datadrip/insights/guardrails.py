"""Guardrails: the model's suggestions checked against the workbook before any becomes a finding."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from datadrip.core.money import minor_units, to_amount
from datadrip.insights.facts import (
    BASELINE,
    RECENT,
    RECENT_DAYS,
    ClientFacts,
    EntityFacts,
    shown_figures,
)
from datadrip.insights.findings import LLM, Evidence, Finding
from datadrip.insights.llm import MONTH, TYPES, Suggestion

CLAIM_CHARS, ACTION_CHARS = 300, 400
RELATIVE_TOLERANCE = Decimal("0.01")
MONEY_METRICS = {"spend", "cpa", "spent", "budget", "projected", "daily_run_rate"}
WHOLE_METRICS = {"impressions", "clicks", "conversions"}  # "40 conversions" for 40.37 is fair

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
_NUMBER = r"(?P<number>\d[\d,]*(?:\.\d+)?)"
# A figure the text gives a metric: "CPA of INR 1,250.00", "ROAS 3.2x", "CTR: 1.5%", "3,000 clicks".
_FIGURE_AFTER = (r"(?:\s+(?:of|is|was|at|now|reached|stands at|stood at))?\s*[:=]?\s*"
                 r"(?:[A-Z]{3}\s?|[₹$€£¥]\s?)?" + _NUMBER + r"(?P<unit>\s*%|x\b)?")
_NOT_A_RATE = r"(?!\s*(?:a|an|per|each|every|/)\s*(?:day|week|month)|\s+daily)"
_METRIC_FIRST = re.compile(r"\b(?i:(?P<metric>cpa|roas|ctr|cvr|frequency|spend))\b" + _FIGURE_AFTER)
_METRIC_AFTER = re.compile(_NUMBER + r"\s+(?i:(?P<metric>impressions|clicks|conversions))\b"
                           + _NOT_A_RATE)
_BUDGET_WORDS = re.compile(r"(?i)\bbudgets?\b|\bspend\b|\bbid|\bscal(?:e|ing)\b")
# A change the action proposes: "raise the budget by 500%", "move 30% of the spend", "cut bids 25 per cent";
# not a figure it explains ("landing on budget needs 67%").
_PROPOSED_CHANGE = re.compile(
    r"(?i)\b(?:raise|increase|lift|boost|scale|grow|double|triple|add|cut|lower|reduce|decrease|trim|drop|"
    r"shift|move|reallocate|put|spend|up|down)\b[^.;:!?%]{0,40}?" + _PERCENT.pattern)
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
    keep = max(0, max_suggestions)
    if len(vetted.findings) > keep:
        cut = len(vetted.findings) - keep
        vetted.findings = vetted.findings[:keep]
        vetted.notes.append(f"{cut} more suggestion{'s' if cut > 1 else ''} passed the checks but "
                            f"{'were' if cut > 1 else 'was'} cut: [ai] max_suggestions is {max_suggestions}, "
                            "so only the highest-impact ones are kept.")
    return vetted


def _vet_one(suggestion: Suggestion, facts: ClientFacts, limit: Decimal,
             seen: set[tuple[str, str]]) -> Finding:
    if suggestion.type not in TYPES:
        raise _Rejected(f"its type {_quote(suggestion.type)} is none of {', '.join(TYPES)}")
    entity = None if suggestion.entity_ref is None else facts.entities.get(suggestion.entity_ref)
    if suggestion.entity_ref is not None and entity is None:
        raise _Rejected("it names an entity that is not in the workbook for this client")
    if (suggestion.type, suggestion.entity_ref or "") in seen:
        raise _Rejected(f"it repeats a {suggestion.type} suggestion already kept for the same "
                        f"{'entity' if entity else 'client'}")
    claim, action = _plain(suggestion.claim, CLAIM_CHARS), _plain(suggestion.action, ACTION_CHARS)
    if not claim or not action:
        raise _Rejected("its claim or action is empty")
    names = _names(facts)
    _check_text(claim, action, names)
    evidence = _check_evidence(suggestion, facts)
    notes: list[str] = []
    pct = _check_budget(suggestion, _without(action, names), limit, notes)
    _check_quoted_figures(_without(claim + " \n " + action, names), suggestion, facts, evidence)
    impact = _clamped(suggestion.impact_score)
    if impact != suggestion.impact_score:
        notes.append(f"the model's impact score {suggestion.impact_score} was brought within 0-100")
    direction = "advice" if not pct else ("increase" if pct > 0 else "decrease")
    figures = {} if pct == suggestion.budget_change_pct else {
        "proposed_budget_change_pct": suggestion.budget_change_pct}
    since, until = (facts.recent.since, facts.recent.until)
    if entity is None and facts.month is not None:
        since, until = facts.month.first, facts.month.through
    return Finding(suggestion.type, LLM, suggestion.entity_ref, None if entity is None else entity.name,
                   direction, claim, action, impact, since, until, evidence, figures, pct, LLM, notes)


def _check_text(claim: str, action: str, names: list[str]) -> None:
    """Plain advice only. Planted instructions are looked for in the whole text; links, addresses
    and markup outside the entities' own names (a campaign may be called "shop.example.in")."""
    for text in (claim, action):
        if _INSTRUCTION.search(text):
            raise _Rejected("its text reads like instructions planted in the data")
        if _SECRET.search(text):
            raise _Rejected("its text mentions keys, passwords or tokens")
        bare = _without(text, names)
        if _URL.search(bare):
            raise _Rejected("its text holds a link or web address")
        if _EMAIL.search(bare):
            raise _Rejected("its text holds an e-mail address")
        if _MARKUP.search(bare):
            raise _Rejected("its text holds markup")


def _check_evidence(suggestion: Suggestion, facts: ClientFacts) -> list[Evidence]:
    """Every quoted figure must be the workbook's own; what is kept is the workbook's exact value."""
    if not suggestion.evidence:
        raise _Rejected("it quotes no evidence from the workbook")
    kept: list[Evidence] = []
    for item in suggestion.evidence:
        if item.window == MONTH:
            if item.entity_ref is not None:
                raise _Rejected("its evidence gives an entity a month-to-date figure, which only the "
                                "client as a whole has")
            figures, where = month_figures(facts), "the client's month to date"
            if not figures:
                raise _Rejected("it quotes month-to-date figures, but the client has no monthly budget "
                                "to pace against")
        elif item.window in (RECENT, BASELINE):
            entity = facts.entities.get(item.entity_ref or "")
            if entity is None:
                raise _Rejected("its evidence names an entity that is not in the workbook for this client")
            figures = shown_figures(entity.window(item.window), entity.currency)
            where = f"{entity.ref} ({item.window})"
        else:
            raise _Rejected(f"its evidence names an unknown window {_quote(item.window)}")
        if item.metric not in figures:
            raise _Rejected(f"its evidence names an unknown metric {_quote(item.metric)}")
        actual = figures[item.metric]
        if actual is None:
            raise _Rejected(f"it quotes {item.metric} for {where}, which the workbook cannot give "
                            "(nothing to divide by)")
        if not _close(item.value, actual, _unit(item.metric, _currency(facts, item.entity_ref))):
            raise _Rejected(f"it quotes {item.metric} {_number(item.value)} for {where} "
                            f"but the workbook says {_number(actual)}")
        kept.append(Evidence(item.entity_ref, item.metric, item.window, actual))
    return kept


def _check_quoted_figures(text: str, suggestion: Suggestion, facts: ClientFacts,
                          evidence: list[Evidence]) -> None:
    """A figure the text gives a metric ("CPA of 1,900") must be that metric's figure, in either
    window, for the entity or one its evidence names. Percent changes are not recomputed here:
    the heuristics' changes allow for late conversions, which the plain sums do not show."""
    refs = {suggestion.entity_ref, *(item.entity_ref for item in evidence)}
    entities = [facts.entities[ref] for ref in refs if ref is not None and ref in facts.entities]
    month = month_figures(facts) if None in refs else {}
    matches = [(match, match.group("metric").lower())
               for match in (*_METRIC_FIRST.finditer(text), *_METRIC_AFTER.finditer(text))]
    for pattern, metric in _result_patterns(entities):
        matches += [(match, metric) for match in pattern.finditer(text)]
    for match, metric in matches:
        unit = (match.groupdict().get("unit") or "").strip()
        if unit == "%" and metric not in ("ctr", "cvr"):
            continue  # "spend 20% higher": a change, not the figure
        value = _decimal(match.group("number"))
        known = [(figure, entity.currency) for entity in entities
                 for window in (entity.recent, entity.baseline)
                 if (figure := shown_figures(window, entity.currency).get(metric)) is not None]
        if metric == "spend":
            known += [(figure, facts.client.currency) for figure in month.values() if figure is not None]
        if value is None or not any(_close(value, figure, _unit(metric, currency))
                                    for figure, currency in known):
            raise _Rejected(f"its text gives {metric} as {match.group('number')}, which is not the "
                            "workbook's figure for the entities it names")


def _result_patterns(entities: list[EntityFacts]) -> list[tuple[re.Pattern[str], str]]:
    """The entities' results in their own words: a figure given as "cost per lead of EUR 12.50"
    is a cpa, "40 leads" a conversions count, and both must be the workbook's."""
    found: list[tuple[re.Pattern[str], str]] = []
    for terms in dict.fromkeys(entity.result for entity in entities):
        found.append((re.compile(r"(?i:\b" + re.escape(terms.cost_label) + r")\b" + _FIGURE_AFTER),
                      "cpa"))
        found.append((re.compile(_NUMBER + r"\s+(?i:" + re.escape(terms.counted) + r")\b"
                                 + _NOT_A_RATE), "conversions"))
    return found


def _check_budget(suggestion: Suggestion, action: str, limit: Decimal, notes: list[str]) -> Decimal | None:
    """A budget change beyond the limit is capped, unless the action repeats it (contradicting the cap)."""
    pct = suggestion.budget_change_pct
    if suggestion.type == "budget" or pct is not None or _BUDGET_WORDS.search(action):
        for match in _PROPOSED_CHANGE.finditer(action):
            value = _decimal(match.group(1))
            if value is not None and abs(value) > limit:
                raise _Rejected(f"its action changes a budget by {match.group(1)}%, beyond the "
                                f"±{_number(limit)} % allowed by [ai] max_budget_change_pct")
    if pct is None or abs(pct) <= limit:
        return pct
    capped = limit if pct > 0 else -limit
    notes.append(f"the model proposed {_signed(pct)} %; capped at {_signed(capped)} % "
                 "by [ai] max_budget_change_pct")
    return capped


def month_figures(facts: ClientFacts) -> dict[str, Decimal | int | None]:
    """The month-to-date figures budget pacing quotes, in the client's currency, computed as it does."""
    month, currency = facts.month, facts.client.currency
    if month is None or month.budget_micros <= 0:
        return {}
    daily = Decimal(month.last_7_days_micros) / RECENT_DAYS
    remaining = max(0, month.days_in_month - month.days_elapsed)
    projected = int((month.spent_micros + daily * remaining).to_integral_value(ROUND_HALF_UP))
    return {"spent": to_amount(month.spent_micros, currency),
            "budget": to_amount(month.budget_micros, currency), "projected": to_amount(projected, currency),
            "daily_run_rate": to_amount(int(daily), currency)}


def _currency(facts: ClientFacts, ref: str | None) -> str:
    entity = facts.entities.get(ref or "")
    return facts.client.currency if entity is None else entity.currency


def _names(facts: ClientFacts) -> list[str]:
    """Names the text may repeat (the data's own), longest first so a longer one is taken whole."""
    names = {facts.client.name, *(entity.name for entity in facts.entities.values()),
             *(entity.account_name for entity in facts.entities.values())}
    return sorted((name for name in names if name and len(name) >= 3), key=len, reverse=True)


def _without(text: str, names: list[str]) -> str:
    for name in names:
        if name in text:
            text = text.replace(name, " ")
    return text


def _unit(metric: str, currency: str) -> Decimal:
    if metric in MONEY_METRICS:
        return Decimal(1).scaleb(-minor_units(currency))
    return Decimal(1) if metric in WHOLE_METRICS else Decimal("0.01")


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
    """Compatibility forms folded (fullwidth "ｈｔｔｐ" is "http"), control and bidirectional characters
    out, whitespace collapsed, cut at a word near `limit`."""
    text = " ".join(_CONTROL.sub(" ", unicodedata.normalize("NFKC", text)).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2:] else cut).rstrip(" ,;:") + "…"


def _safe_ref(ref: str | None) -> str:
    if ref is None:
        return "the client as a whole"
    return ref if re.fullmatch(r"(?:campaign|adset|ad):[\w-]{1,40}", ref) else "an unrecognised entity"


def _quote(text: str) -> str:
    cleaned = re.sub(r"[^\w .-]", "", text)[:30]
    return f"'{cleaned}'"


def _number(value: Decimal | int) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _signed(value: Decimal) -> str:
    return ("+" if value > 0 else "") + format(value.normalize(), "f")


__all__ = ["Vetted", "month_figures", "vet"]
