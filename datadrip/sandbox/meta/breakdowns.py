"""Meta insights `breakdowns` for the sandbox: the combinations Meta allows, each campaign-day
split over the values of the asked breakdowns so the parts add up exactly to the unbroken row.

Like Meta: a combination outside the allowed list is refused with code 100; with `age` or
`gender`, off-Meta (pixel) actions are shown only when attribution windows are listed explicitly;
a breakdown query starting more than 13 months back answers no reach; from 2026-08-03 an account
that has not opted in to impression_device in Ads Manager gets no rows for it (the accounts in
`state.extra["meta_impression_device_not_opted_in"]`: every account is opted in unless a test
says otherwise). Every request with breakdowns is recorded in
`state.extra["meta_breakdown_requests"]` for tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from itertools import product
from typing import Any, TypeVar

from datadrip.sandbox.data import MINOR_UNITS, Account
from datadrip.sandbox.meta.common import graph_error
from datadrip.sandbox.splits import split, weights
from datadrip.sandbox.state import SandboxContext
from datadrip.sandbox.web import Response

# Meta's allowed combinations (card §4), device_platform alone beside them (valid, though in no
# documented combination). impression_device is allowed only beside publisher_platform.
ALLOWED = {("age",), ("gender",), ("age", "gender"), ("country",), ("publisher_platform",),
           ("publisher_platform", "platform_position"), ("device_platform",),
           ("publisher_platform", "impression_device")}
# Allowed by Meta but not emulated here.
NOT_EMULATED = {("region",),
                ("publisher_platform", "platform_position", "impression_device"),
                ("product_id",), ("hourly_stats_aggregated_by_advertiser_time_zone",),
                ("hourly_stats_aggregated_by_audience_time_zone",)}
VALUES = {
    "age": ("18-24", "25-34", "35-44", "45-54", "55-64", "65+", "Unknown"),
    "gender": ("female", "male", "unknown"),
    "publisher_platform": ("facebook", "instagram", "audience_network", "messenger"),
    "device_platform": ("mobile_app", "mobile_web", "desktop"),
    "impression_device": ("iphone", "ipad", "android_smartphone", "android_tablet", "desktop",
                          "other"),
}
POSITIONS = {"facebook": ("feed", "facebook_reels", "marketplace"),
             "instagram": ("feed", "instagram_stories", "instagram_reels"),
             "audience_network": ("classic",), "messenger": ("messenger_inbox",)}
COUNTRIES = {"INR": ("IN", "AE", "GB"), "USD": ("US", "CA", "MX"), "EUR": ("DE", "FR", "NL")}
REACH_MONTHS = 13  # breakdown queries starting further back get no reach (since 2025-06-10)
OFF_META_WINDOWS_NEEDED = ("age", "gender")
REQUESTS = "meta_breakdown_requests"
NOT_OPTED_IN = "meta_impression_device_not_opted_in"  # sandbox account ids
OPT_IN_NEEDED_FROM = dt.date(2026, 8, 3)  # impression_device needs the Ads Manager opt-in since

S = TypeVar("S")


def check(breakdowns: list[str]) -> tuple[str, ...] | Response:
    """The asked breakdowns, or Meta's code-100 error for a combination it does not allow."""
    asked = tuple(breakdowns)
    if asked in ALLOWED:
        return asked
    if asked in NOT_EMULATED:
        return graph_error(f"(#100) breakdowns {','.join(asked)} are not emulated by the DataDrip "
                           "sandbox", 100)
    return graph_error(f"(#100) Current combination of data breakdown columns (action_type, "
                       f"{', '.join(asked)}) is invalid ", 100)


def record(sandbox: SandboxContext, account: Account, params: dict[str, str]) -> None:
    with sandbox.state.lock:
        sandbox.state.extra.setdefault(REQUESTS, []).append(
            {"account_id": account.id, **{k: v for k, v in params.items() if k != "access_token"}})


def withholds_impression_device(sandbox: SandboxContext, account: Account,
                                breakdowns: tuple[str, ...], today: dt.date) -> bool:
    """Whether Meta answers nothing to this query: impression_device asked, on or after
    OPT_IN_NEEDED_FROM, of an account that has not opted in."""
    if "impression_device" not in breakdowns or today < OPT_IN_NEEDED_FROM:
        return False
    with sandbox.state.lock:
        return account.id in sandbox.state.extra.get(NOT_OPTED_IN, set())


def reach_withheld(since: dt.date, today: dt.date) -> bool:
    """Whether a breakdown query from `since` starts more than REACH_MONTHS before `today`."""
    year, month = divmod(today.year * 12 + today.month - 1 - REACH_MONTHS, 12)
    last = (dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - dt.timedelta(days=1)).day
    return since < dt.date(year, month + 1, min(today.day, last))


def combinations(account: Account, breakdowns: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every value tuple of `breakdowns` for the account, in a fixed order."""
    if breakdowns == ("publisher_platform", "platform_position"):
        return [(platform, position) for platform in VALUES["publisher_platform"]
                for position in POSITIONS[platform]]
    lists = [COUNTRIES.get(account.currency, ("US", "GB", "DE")) if name == "country"
             else VALUES[name] for name in breakdowns]
    return list(product(*lists))


def parts(sandbox: SandboxContext, account: Account, breakdowns: tuple[str, ...],
          windows: tuple[str, ...], campaign_id: str, day: dt.date,
          total: S, reach: int) -> list[tuple[dict[str, str], S, int]]:
    """The campaign-day `total` (the insights sum: int fields, dicts of ints by window, a set of
    days) split over the breakdown values: (the row's breakdown fields, the part, its reach)."""
    values = combinations(account, breakdowns)
    shares = weights(sandbox.world.seed, account.id, campaign_id, day, ["/".join(v) for v in values])
    step = 10 ** (6 - MINOR_UNITS.get(account.currency, 2))
    pieces: list[dict[str, Any]] = [{} for _ in values]
    # Counts first; money values follow their counts (a part with no purchases has no value).
    names = sorted((item.name for item in dataclasses.fields(total)),  # type: ignore[arg-type]
                   key=lambda name: name in ("value", "values"))
    for name in names:
        whole = getattr(total, name)
        if isinstance(whole, int):
            by = [piece.get("purchases", 0) for piece in pieces] if name == "value" else shares
            step_of = step if name in ("spend", "value") else 1
            for piece, amount in zip(pieces, split(whole, by if sum(by) else shares, step_of),
                                     strict=True):
                piece[name] = amount
        elif isinstance(whole, dict):
            for piece in pieces:
                piece[name] = {}
            for window, amount in whole.items():
                by = [piece["counts"].get(window, 0) for piece in pieces] if name == "values" \
                    else shares
                per = split(amount, by if sum(by) else shares, step if name == "values" else 1)
                for piece, share in zip(pieces, per, strict=True):
                    piece[name][window] = share
        else:
            for piece in pieces:
                piece[name] = set(whole)
    drop_off_meta = any(name in OFF_META_WINDOWS_NEEDED for name in breakdowns) and \
        not [w for w in windows if w != "default"]
    reaches = split(reach, shares)
    found = []
    for value, piece, part_reach in zip(values, pieces, reaches, strict=True):
        if drop_off_meta:  # the sandbox's purchases are pixel (off-Meta) purchases
            piece.update(purchases=0, value=0, counts={}, values={})
        part = dataclasses.replace(total, **piece)  # type: ignore[type-var]
        if not (piece.get("impressions") or piece.get("clicks") or piece.get("spend")):
            continue
        found.append((dict(zip(breakdowns, value, strict=True)), part, part_reach))
    return found
