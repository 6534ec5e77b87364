"""Meta's [meta] settings section: the plug-in's `settings_model`."""

from __future__ import annotations

from pydantic import Field

from datadrip.core.config import Section


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
