"""What every connector hands back, whatever the platform: plain records, no database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# `get_token(force_refresh)` gives a bearer token; force_refresh=True after the platform answered
# 401, so an expired access token is renewed once before a request is retried.
TokenSource = Callable[[bool], str]


@dataclass(frozen=True)
class AccountRef:
    """An ad account a login can read.

    `external_id` is how the workbook names it: Meta "act_1234567890", Google "1234567890" (ten
    digits, no dashes). `status` is an AccountStatus value ("active" or "disabled").
    `login_customer_id`: Google only, the manager (MCC) the account is reached through, sent as
    the login-customer-id header; None when the login reaches the account directly.
    """

    platform: str
    external_id: str
    name: str
    currency: str
    timezone: str
    status: str = "active"
    login_customer_id: str | None = None
    manager_name: str | None = None  # Google: the name of that manager, for the picker
