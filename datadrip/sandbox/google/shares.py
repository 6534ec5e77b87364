"""Google's search impression shares for the sandbox (platform facts card §7).

`metrics.search_impression_share`, `search_budget_lost_impression_share` and
`search_rank_lost_impression_share` are 0–1 doubles. The sandbox serves them FROM campaign only,
and gives values for search campaigns only (SEARCH, SHOPPING: the channels the search shares
describe); other campaigns (Performance Max here) leave them out, as proto3 JSON leaves an unset
field out. A day without impressions has none either.

Each search campaign-day has a true share, deterministic from its id and day, and the lost
shares split the rest (share + budget lost + rank lost = 1). The API reports a share below 0.1
as 0.0999 and a lost share above 0.9 as 0.9001; the sandbox does the same, so some days carry
the bounds. A range without a date segment is answered as Google re-aggregates: weighted by
eligible impressions (impressions ÷ true share).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from datadrip.sandbox.data import Row

SHARE = "metrics.search_impression_share"
BUDGET_LOST = "metrics.search_budget_lost_impression_share"
RANK_LOST = "metrics.search_rank_lost_impression_share"
SHARE_METRICS = (SHARE, BUDGET_LOST, RANK_LOST)
SHARE_CHANNELS = ("SEARCH", "SHOPPING")
FLOOR, CEILING = Decimal("0.0999"), Decimal("0.9001")  # "< 0.1" and "> 0.9" as the API says them
_STEP = Decimal("0.0001")


def true_shares(campaign_id: str, day_ordinal: int) -> tuple[Decimal, Decimal, Decimal]:
    """The campaign-day's share of eligible impressions it won, and the shares it lost to
    budget and to rank (they add up to 1), at 0.0001."""
    seed = int(campaign_id) * 7919 + day_ordinal * 104729
    share = Decimal(400 + seed % 9000) * _STEP  # 0.04 … 0.9399
    budget = ((1 - share) * Decimal((seed // 9000) % 100) / 100).quantize(_STEP)
    return share, budget, 1 - share - budget


def reported(share: Decimal, budget: Decimal, rank: Decimal) -> dict[str, Decimal]:
    """The three values as the API reports them: < 0.1 won as 0.0999, > 0.9 lost as 0.9001."""
    return {SHARE: FLOOR if share < Decimal("0.1") else share,
            BUDGET_LOST: CEILING if budget > Decimal("0.9") else budget,
            RANK_LOST: CEILING if rank > Decimal("0.9") else rank}


def row_shares(row: Row) -> dict[str, Decimal | None]:
    """One campaign-day's shares (None for a campaign not on search or a day without
    impressions)."""
    if row.entity.channel not in SHARE_CHANNELS or not row.impressions:
        return dict.fromkeys(SHARE_METRICS)
    return dict(reported(*true_shares(row.entity.campaign_id, row.date.toordinal())))


def range_shares(rows: Sequence[Row]) -> dict[str, Decimal | None]:
    """One campaign's shares over several days: each weighted by the day's eligible impressions
    (impressions ÷ true share), then reported with the API's bounds."""
    eligible = Decimal(0)
    won = budget_lost = rank_lost = Decimal(0)
    for row in rows:
        if row.entity.channel not in SHARE_CHANNELS or not row.impressions:
            continue
        share, budget, rank = true_shares(row.entity.campaign_id, row.date.toordinal())
        day = Decimal(row.impressions) / share
        eligible += day
        won += row.impressions
        budget_lost += day * budget
        rank_lost += day * rank
    if not eligible:
        return dict.fromkeys(SHARE_METRICS)
    return dict(reported((won / eligible).quantize(_STEP), (budget_lost / eligible).quantize(_STEP),
                         (rank_lost / eligible).quantize(_STEP)))
