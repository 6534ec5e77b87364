"""The report's few written lines, from its numbers (and open suggestions): Markdown, with every
name from an ad platform escaped so it reads as text."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from datadrip.reports import formatting as f
from datadrip.reports.content import ReportContent

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>&~])")


def escape(text: str) -> str:
    """A campaign or client name as literal Markdown text (no emphasis, links or HTML)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def write_summary(content: ReportContent) -> str:
    locale, currency = content.agency.locale, content.currency
    period = content.plan.period
    when = f"On {f.day(period.since, locale)}" if period.days == 1 else \
        f"From {f.day_range(period.since, period.until, locale)}"
    if not content.has_data:
        return f"{when}, no ad activity was recorded for {escape(content.client.name)}.\n" + \
            _suggestions(content)
    kpi = {item["metric"]: item for item in content.kpis}
    before = "the day before" if period.days == 1 else f"the previous {period.days} days"
    spend = kpi["spend"]
    lines = [f"{when}, **{f.money(spend['value'], currency, locale)}** was spent on ads"
             f"{_change_words(spend, before)}, for **{f.number(kpi['conversions']['value'], locale)} "
             f"conversions**{_cpa_words(kpi['cpa'], currency, locale)}.{_roas_words(kpi, currency, locale)}"]
    if content.results:
        lines.append("Results: " + "; ".join(
            f"{escape(result['label'])} **{f.number(result['count'], locale)}**"
            + (f" ({escape(result['cost_label'].lower())} "
               f"{f.money(result['cost'], currency, locale)})" if result["cost"] is not None else "")
            for result in content.results) + ".")
    if len(content.channels) > 1:
        parts = [f"{channel['label']} {f.percent(channel['share_pct'], locale)}"
                 + (f" at {f.money(channel['cpa'], currency, locale)} a conversion"
                    if channel["cpa"] is not None else "") for channel in content.channels]
        lines.append("Share of spend: " + "; ".join(parts) + ".")
    best = _best_campaign(content.campaigns)
    if best is not None:
        lines.append(f"Most conversions: **{escape(best['campaign'])}** ({best['platform_label']}), "
                     f"{f.number(best['conversions'], locale)} at "
                     f"{f.money(best['cpa'], currency, locale)} each.")
    if content.pacing is not None:
        lines.append(_pacing_words(content.pacing, currency, locale))
    text = "\n\n".join(lines) + "\n"  # warnings about the data stand apart, in the template
    return text + _suggestions(content)


def _suggestions(content: ReportContent) -> str:
    """The client's open insights, the most impactful first (see `datadrip insight list`)."""
    if not content.insights:
        return ""
    return "\n**Suggestions**\n\n" + "".join(
        f"- {escape(item['claim'])}" + (f" {escape(item['action'])}" if item["action"] else "") + "\n"
        for item in content.insights)


def _change_words(item: dict[str, Any], before: str) -> str:
    pct: Decimal | None = item["change_pct"]
    if pct is None or item["change"] is None:
        return ""
    if not pct:
        return f", as much as {before}"
    return f", {abs(pct)}% {'more' if pct > 0 else 'less'} than {before}"


def _cpa_words(cpa: dict[str, Any], currency: str, locale: str) -> str:
    if cpa["value"] is None:
        return ""
    words = f" at {f.money(cpa['value'], currency, locale)} each"
    if cpa["change_pct"]:
        better = "better" if cpa["verdict"] == "good" else "worse"
        words += f" ({abs(cpa['change_pct'])}% {better})"
    return words


def _roas_words(kpi: dict[str, dict[str, Any]], currency: str, locale: str) -> str:
    value = kpi["conversion_value"]["value"]
    if not value or kpi["roas"]["value"] is None:
        return ""
    return (f" They brought **{f.money(value, currency, locale)}** in revenue, a return of "
            f"**{f.ratio(kpi['roas']['value'], locale)}** on spend.")


def _best_campaign(campaigns: list[dict[str, Any]]) -> dict[str, Any] | None:
    converting = [c for c in campaigns if c["conversions"] and c["cpa"] is not None]
    return max(converting, key=lambda c: (c["conversions"], -c["cpa"])) if converting else None


def _pacing_words(pacing: dict[str, Any], currency: str, locale: str) -> str:
    spent = f"{f.money(pacing['spent'], currency, locale)} of the "
    spent += f"{f.money(pacing['budget'], currency, locale)} monthly budget is spent "
    spent += f"({f.percent(pacing['spent_pct'], locale)}, day {pacing['days_elapsed']} of "
    spent += f"{pacing['days_in_month']})"
    projected = f.money(pacing["projected"], currency, locale)
    if pacing["status"] == "over":
        return f"Budget: {spent}, ahead of pace: at this rate the month ends at {projected}."
    if pacing["status"] == "under":
        return f"Budget: {spent}, behind pace: at this rate the month ends at {projected}."
    return f"Budget: {spent}, on track for {projected} this month."


def plain(markdown_text: str) -> str:
    """The summary for the plain-text e-mail: no emphasis marks, no escapes."""
    text = markdown_text.replace("**", "")
    return re.sub(r"\\(.)", r"\1", text)
