"""`insight generate`: per client, the facts, the heuristics, the model when it is wanted, then
the workbook — with every reason the model was not used said plainly.

The model is asked outside any workbook transaction (a slow server must not hold a write lock),
its usage is recorded as soon as it answers, and whatever goes wrong with it — no key, a limit
reached, a timeout, a refusal, an answer that fails the guardrails — the heuristics' suggestions
are saved instead, with a note saying why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from datadrip.analytics.totals import agency_today, resolve_scope
from datadrip.core.config import Loaded
from datadrip.core.enums import ClientRunStatus, InsightStatus
from datadrip.core.errors import AuthRequiredError, DataDripError, UsageError
from datadrip.db.models import Agency, Client, Insight
from datadrip.insights.facts import client_facts
from datadrip.insights.findings import Finding
from datadrip.insights.heuristics.engine import heuristic_findings
from datadrip.insights.identity import Figures, known_figures
from datadrip.insights.model_run import ask_for_suggestions
from datadrip.insights.store import insight_record, save_findings
from datadrip.workbook.session import open_session

ENGINES = ("auto", "heuristic", "llm")
DISMISSED_SHOWN = 10  # the latest dismissed suggestions (with notes) the model is told about


@dataclass(frozen=True)
class GenerateRequest:
    client_ref: str | None = None
    agency_ref: str | None = None
    engine: str | None = None  # None: [ai] engine


@dataclass
class ClientRun:
    client: str
    engine: str  # what produced the saved suggestions: "heuristic" | "llm"
    as_of: dt.date | None
    found: int = 0
    created: list[dict[str, Any]] = field(default_factory=list)
    refreshed: int = 0
    unchanged: int = 0
    suppressed: int = 0  # dismissed or applied before, and their facts are the same
    set_aside: int = 0  # contradicted a kept suggestion about the same entity's budget
    cached: bool = False  # the model's answer came from the cache: no call was made
    fallback: str | None = None  # why the model's suggestions are not the ones saved
    dropped: list[str] = field(default_factory=list)  # suggestions the guardrails refused, and why
    notes: list[str] = field(default_factory=list)
    status: ClientRunStatus = ClientRunStatus.OK  # FAILED: nothing was saved, `error` says why
    error: str | None = None
    hint: str | None = None
    needs_login: bool = False

    def record(self) -> dict[str, Any]:
        return {"client": self.client, "engine": self.engine, "as_of": self.as_of, "found": self.found,
                "created": self.created, "refreshed": self.refreshed, "unchanged": self.unchanged,
                "suppressed": self.suppressed, "set_aside": self.set_aside, "cached": self.cached,
                "fallback": self.fallback, "dropped": self.dropped, "notes": self.notes,
                "status": self.status, "error": self.error, "hint": self.hint}


@dataclass
class GenerateOutcome:
    runs: list[ClientRun] = field(default_factory=list)

    @property
    def failed(self) -> list[ClientRun]:
        return [run for run in self.runs if run.status == ClientRunStatus.FAILED]


def generate_insights(loaded: Loaded, request: GenerateRequest, *,
                      now: dt.datetime | None = None) -> GenerateOutcome:
    engine = request.engine or loaded.settings.ai.engine
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}", hint=f"Use one of: {', '.join(ENGINES)}.")
    with open_session(loaded) as wb:
        scope = resolve_scope(wb.session, request.client_ref, request.agency_ref)
        agency, clients = scope.agency, list(scope.clients)
    outcome = GenerateOutcome()
    for client in clients:  # one client's failure (a missing exchange rate) never stops the others
        try:
            outcome.runs.append(_generate_for(loaded, agency, client, engine, now))
        except UsageError:  # the call or the settings are wrong: every client would fail alike
            raise
        except DataDripError as exc:
            outcome.runs.append(ClientRun(client.name, engine, None, status=ClientRunStatus.FAILED,
                                          error=exc.message, hint=exc.hint,
                                          needs_login=isinstance(exc, AuthRequiredError)))
    return outcome


def _generate_for(loaded: Loaded, agency: Agency, client: Client, engine: str,
                  now: dt.datetime | None) -> ClientRun:
    ai = loaded.settings.ai
    bound = Decimal(ai.max_budget_change_pct)
    today = agency_today(agency, now)
    with open_session(loaded) as wb:
        facts = client_facts(wb.session, agency, client, today)
        dismissed = _dismissed(wb.session, client)
    heuristic = heuristic_findings(facts, max_budget_change_pct=bound) if facts.as_of else []
    run = ClientRun(client.name, "heuristic", facts.as_of, notes=list(facts.notes))
    findings = heuristic[:ai.max_suggestions]
    if facts.as_of is not None and engine != "heuristic":
        asked = ask_for_suggestions(loaded, agency, facts, heuristic, dismissed, today,
                                    explicit=engine == "llm")
        run.cached, run.dropped, run.notes = asked.cached, asked.dropped, run.notes + asked.notes
        if asked.findings or (asked.answered_nothing and not heuristic):
            run.engine, findings = "llm", asked.findings  # both engines quiet: nothing to say
        else:
            run.fallback = asked.reason
    run.found = len(findings)
    _save(loaded, client, findings, known_figures(facts if facts.as_of else None, findings), run)
    return run


def _save(loaded: Loaded, client: Client, findings: list[Finding], figures: Figures, run: ClientRun) -> None:
    with open_session(loaded, write=True) as wb:
        saved = save_findings(wb, client, findings, figures)
        run.created = [insight_record(row, client) for row in saved.created]
        run.refreshed, run.unchanged = len(saved.refreshed), len(saved.unchanged)
        run.suppressed, run.set_aside = len(saved.suppressed), len(saved.set_aside)
        run.notes += [sentence[0].upper() + sentence[1:] for sentence in saved.set_aside]


def _dismissed(session: Session, client: Client) -> list[dict[str, str]]:
    rows = session.execute(
        sa.select(Insight).where(col(Insight.client_id) == client.id,
                                 col(Insight.status) == InsightStatus.DISMISSED.value)
        .order_by(col(Insight.resolved_at).desc()).limit(DISMISSED_SHOWN)).scalars()
    return [{"type": row.type, "entity_ref": str((row.payload.get("entity") or {}).get("ref") or ""),
             "claim": str(row.payload.get("claim") or ""), "note": row.note or ""} for row in rows]
