"""Google Ads' [google] settings section: the plug-in's `settings_model`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from datadrip.core.config import Section


class GoogleSettings(Section):
    """The [google] section of datadrip.toml (DATADRIP_GOOGLE_* in the environment)."""

    api_url: str = Field("https://googleads.googleapis.com", description="Google Ads REST base URL")
    auth_url: str = Field("https://accounts.google.com/o/oauth2/v2/auth",
                          description="OAuth consent page")
    token_url: str = Field("https://oauth2.googleapis.com/token", description="OAuth token endpoint")
    revoke_url: str = Field("https://oauth2.googleapis.com/revoke",
                            description="OAuth token revocation endpoint")
    api_version: str = Field("v26", description="Google Ads API version")
    client_id: str = Field("", description="OAuth client ID of a Desktop-app client (the secret "
                           "is the secret google.client_secret)")
    lookback_days: int = Field(30, ge=0, le=400, description="Days re-read on every sync, since "
                               "conversions keep arriving for the conversion window (30 by default)")
    action_counts: Literal["by_inclusion", "all_conversions"] = Field(
        "by_inclusion", description="Which number each conversion action keeps: by_inclusion "
        "(the default) keeps metrics.conversions for the actions counted in the Conversions "
        "column, so they add up to it, and all_conversions for the others; all_conversions keeps "
        "all_conversions for every action (the All conv. column by action)")
