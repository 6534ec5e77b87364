"""Meta's [meta] settings section: the plug-in's `settings_model`."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from datadrip.core.config import Section, comma_text

# Meta's breakdowns that may give the device line (card §4): device_platform is valid but in no
# documented combination (unconfirmed); impression_device is documented only with
# publisher_platform and, from 2026-08-03, needs an Ads Manager opt-in on accounts without a
# sales representative (without it Meta may answer nothing).
DEVICE_BREAKDOWNS = ("device_platform", "publisher_platform,impression_device")


class MetaSettings(Section):
    """The [meta] section of datadrip.toml (DATADRIP_META_* in the environment)."""

    graph_url: str = Field("https://graph.facebook.com", description="Graph API base URL")
    dialog_url: str = Field("https://www.facebook.com", description="Login dialog base URL")
    api_version: str = Field("v26.0", description="Marketing API version")
    app_id: str = Field("", description="Your Meta app's ID (the app secret is the secret "
                        "meta.app_secret)")
    redirect_port: int = Field(8765, ge=1, le=65535, description="Loopback port of the login "
                               "redirect http://localhost:PORT/callback; the app must list it")
    lookback_days: int = Field(28, ge=0, le=400, description="Days re-read on every sync, since "
                               "conversions are restated (Meta calls them stable after 28)")
    device_breakdown: str = Field(
        "device_platform", description="Meta's breakdown behind `--breakdowns device`: "
        "device_platform (mobile_app, mobile_web, desktop; valid at Meta though in none of its "
        "documented combinations) or publisher_platform,impression_device (iphone, ipad, "
        "android_smartphone, android_tablet, desktop, other: summed over the platforms, reach "
        "unknown; from 2026-08-03 it needs the Ads Manager opt-in on accounts without a sales "
        "representative)")

    @field_validator("device_breakdown", mode="before")
    @classmethod
    def _device_breakdown(cls, value: Any) -> Any:
        value = comma_text(value)
        if not isinstance(value, str):
            return value
        cleaned = ",".join(part.strip() for part in value.split(",") if part.strip())
        if cleaned not in DEVICE_BREAKDOWNS:
            raise ValueError(f"{value!r} is not a device breakdown Meta documents or DataDrip "
                             f"reads; use \"{DEVICE_BREAKDOWNS[0]}\" or \"{DEVICE_BREAKDOWNS[1]}\"")
        return cleaned
