"""One client's report, whole: its numbers, its charts and its renderings (file, e-mail, text)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from datadrip.db.models import Agency, Client
from datadrip.reports.build import build_content
from datadrip.reports.charts import Chart, draw_charts
from datadrip.reports.content import ReportContent, ReportPlan
from datadrip.reports.render import Image, images_for, render, subject
from datadrip.workbook.fx import RateBook


@dataclass
class ComposedReport:
    content: ReportContent
    record: dict[str, Any]
    charts: list[Chart]
    images: list[Image]
    template_dir: str = ""
    _cache: dict[tuple[str, bool], str] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return subject(self.record)

    def rendered(self, fmt: str, *, embed: bool = True) -> str:
        """The report as html (embed: images as data URIs; else cid: references), txt or md."""
        key = (fmt, embed if fmt == "html" else True)
        if key not in self._cache:
            self._cache[key] = render(self.record, fmt, images=self.images, embed=key[1],
                                      template_dir=self.template_dir)
        return self._cache[key]


def compose_report(session: Session, agency: Agency, client: Client, plan: ReportPlan, *,
                   template_dir: str = "", charts: bool = True, rates: RateBook | None = None,
                   now: dt.datetime | None = None) -> ComposedReport:
    """Read the numbers and draw the charts; renderings are made when asked for."""
    content = build_content(session, agency, client, plan, rates=rates, now=now)
    record = content.record()
    drawn = draw_charts(record) if charts else []
    return ComposedReport(content, record, drawn, images_for(record, drawn), template_dir)
