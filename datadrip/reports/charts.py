"""The report's charts as small PNGs, legible on a phone: matplotlib's Agg backend, imported only
when a chart is drawn, with a fixed layout (no tight_layout: it doubles the drawing time)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

DEFAULT_COLOUR = "#1A73E8"
MUTED = "#C9CED6"
INK = "#3C4043"
WIDTH_INCHES, DPI = 6.0, 100  # 600 px: the e-mail's content width


@dataclass(frozen=True)
class Chart:
    name: str  # "trend", "channels": the image's file name and Content-ID
    title: str  # its alt text
    png: bytes


def _figure(height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI)
    figure.patch.set_facecolor("white")
    return figure


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()


def _style(axes: Any) -> None:
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(MUTED)
    axes.tick_params(colors=INK, labelsize=13, length=0)
    axes.grid(axis="y", color="#EEF0F2", linewidth=1)
    axes.set_axisbelow(True)


def _compact(value: float, locale: str, symbol: str = "") -> str:
    from babel.numbers import format_compact_decimal

    return symbol + str(format_compact_decimal(value, locale=locale, fraction_digits=1))


def trend_chart(days: Sequence[dict[str, Any]], currency: str, locale: str,
                colour: str | None) -> Chart | None:
    """Daily spend (bars; days before the period in grey) over daily conversions."""
    if not days or not any(day["spend"] or day["conversions"] for day in days):
        return None
    from babel.dates import format_date
    from babel.numbers import get_currency_symbol
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    colour = colour or DEFAULT_COLOUR
    figure = _figure(3.4)
    spend_axes = figure.add_axes((0.12, 0.56, 0.86, 0.34))
    conversion_axes = figure.add_axes((0.12, 0.12, 0.86, 0.30), sharex=spend_axes)
    positions = list(range(len(days)))
    colours = [colour if day["in_period"] else MUTED for day in days]
    spend_axes.bar(positions, [float(day["spend"]) for day in days], color=colours, width=0.7)
    conversion_axes.bar(positions, [float(day["conversions"]) for day in days], color=colours,
                        width=0.7, alpha=0.55)
    symbol = str(get_currency_symbol(currency, locale=locale))
    spend_axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v, locale, symbol)))
    conversion_axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v, locale)))
    for axes, title, top in ((spend_axes, "Spend per day", 0.93), (conversion_axes,
                                                                     "Conversions per day", 0.45)):
        _style(axes)
        axes.yaxis.set_major_locator(MaxNLocator(3))
        # A figure text, not axes.set_title: placing a title measures every tick label (+40 %).
        figure.text(0.12, top, title, fontsize=13, color=INK)
    step = max(1, len(days) // 4)  # four or five dates fit a phone
    ticks = positions[::-1][::step][::-1]
    conversion_axes.set_xticks(ticks, [str(format_date(days[i]["day"], "d MMM", locale=locale))
                                       for i in ticks])
    spend_axes.tick_params(labelbottom=False)
    return Chart("trend", "Spend and conversions per day", _png(figure))


def channel_chart(channels: Sequence[dict[str, Any]], colour: str | None) -> Chart | None:
    """Each channel's share of spend, as one horizontal bar per channel."""
    shares = [(channel["label"], channel["share_pct"]) for channel in channels
              if channel["share_pct"] is not None]
    if len(shares) < 2:
        return None
    colour = colour or DEFAULT_COLOUR
    figure = _figure(0.55 + 0.5 * len(shares))
    height = 0.5 * len(shares) / (0.55 + 0.5 * len(shares))
    axes = figure.add_axes((0.22, 0.12, 0.7, height))
    labels = [label for label, _ in shares][::-1]
    values = [float(share) for _, share in shares][::-1]
    axes.barh(labels, [100.0] * len(values), color="#EEF0F2", height=0.6)
    axes.barh(labels, values, color=colour, height=0.6)
    for position, value in enumerate(values):
        axes.text(min(value, 88.0) + 1.5, position, f"{Decimal(str(value)).normalize():f}%",
                  va="center", fontsize=13, color=INK)
    axes.set_xlim(0, 100)
    axes.set_xticks([])
    for side in ("top", "right", "bottom", "left"):
        axes.spines[side].set_visible(False)
    axes.tick_params(colors=INK, labelsize=13, length=0)
    figure.text(0.22, 0.12 + height + 0.04, "Share of spend", fontsize=13, color=INK)
    return Chart("channels", "Share of spend by channel", _png(figure))


def draw_charts(record: dict[str, Any]) -> list[Chart]:
    """The charts a report record calls for (none for a report without data)."""
    if not record["has_data"]:
        return []
    colour = record["agency"]["colour"]
    currency, locale = record["currency"], record["agency"]["locale"]
    charts = [trend_chart(record["trend"], currency, locale, colour),
              channel_chart(record["channels"], colour)]
    return [chart for chart in charts if chart is not None]
