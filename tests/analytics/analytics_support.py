"""A small workbook with numbers chosen by hand, the figures of which the tests work out on paper.

Agency "Spice Route Media" (INR, Asia/Kolkata):
  client "Masala Mornings" (INR)
    Meta act_1 (INR): campaign "Diwali" with ad set "Diwali broad" and ad "Diwali reel",
                      campaign "Brand" (no impressions at all)
    Google 1234567890 (USD): campaign "Search"
  client "Peak Trail" (USD)
    Meta act_2 (USD): campaign "Trail"
  client "Dormant" (INR, inactive)
    Meta act_3 (INR): campaign "Old"
Days 2026-11-01 (a Sunday) to 2026-11-03.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlmodel import select

from datadrip.core.money import conversions_to_millionths
from datadrip.db.models import AdAccount, Client, Entity, MetricDaily
from datadrip.platforms.registry import load_settings
from datadrip.workbook.session import open_session

D1, D2, D3 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)
M = 1_000_000
MASALA = "Masala Mornings"

# (client, platform, account, currency, level, entity, parent, day, spend, imp, clicks, conv, value)
ROWS: list[tuple[Any, ...]] = [
    (MASALA, "meta", "act_1", "INR", "campaign", "Diwali", None, D1, "1000", 10000, 100, 4, "5000"),
    (MASALA, "meta", "act_1", "INR", "campaign", "Diwali", None, D2, "500.50", 5000, 0, 0, "0"),
    (MASALA, "meta", "act_1", "INR", "campaign", "Brand", None, D1, "200", 0, 0, 0, "0"),
    (MASALA, "meta", "act_1", "INR", "adset", "Diwali broad", "Diwali", D1, "1000", 10000, 100, 4, "5000"),
    (MASALA, "meta", "act_1", "INR", "ad", "Diwali reel", "Diwali broad", D1, "1000", 10000, 100, 4, "5000"),
    (MASALA, "google", "1234567890", "USD", "campaign", "Search", None, D1, "10", 1000, 10, 1.5, "30"),
    ("Peak Trail", "meta", "act_2", "USD", "campaign", "Trail", None, D3, "20", 2000, 20, 2, "100"),
    ("Dormant", "meta", "act_3", "INR", "campaign", "Old", None, D2, "999", 999, 9, 1, "9"),
]


def micros(text: str) -> int:
    return int(Decimal(text) * M)


def fill_workbook(dd: Callable[..., Any]) -> None:
    """The agency and clients through the CLI, accounts and numbers as a sync would leave them."""
    assert dd("agency", "add", "Spice Route Media").exit_code == 0
    for name, currency in (("Masala Mornings", "INR"), ("Peak Trail", "USD"), ("Dormant", "INR")):
        run = dd("client", "add", name, "--currency", currency)
        assert run.exit_code == 0, run.stderr
    assert dd("client", "edit", "Dormant", "--inactive").exit_code == 0
    with open_session(load_settings(), write=True) as wb:
        session = wb.session
        clients = {client.name: client for client in session.exec(select(Client))}
        accounts: dict[str, AdAccount] = {}
        entities: dict[str, Entity] = {}
        for (client, platform, account, currency, level, entity, parent, day, spend, imp, clicks,
             conv, value) in ROWS:
            if account not in accounts:
                accounts[account] = AdAccount(client_id=clients[client].id, platform=platform,
                                              external_id=account, name=f"{client} {platform}",
                                              currency=currency, timezone="Asia/Kolkata")
                session.add(accounts[account])
                session.flush()
            if entity not in entities:
                entities[entity] = Entity(account_id=accounts[account].id, level=level,
                                          external_id=f"{level}-{entity.lower().replace(' ', '-')}",
                                          name=entity,
                                          parent_id=entities[parent].id if parent else None)
                session.add(entities[entity])
                session.flush()
            session.add(MetricDaily(account_id=accounts[account].id, level=level,
                                    entity_id=entities[entity].id, date=day,
                                    spend_micros=micros(spend), impressions=imp, clicks=clicks,
                                    conversions_millionths=conversions_to_millionths(Decimal(str(conv))),
                                    conversion_value_micros=micros(value)))
