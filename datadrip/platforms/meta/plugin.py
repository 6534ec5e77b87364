"""Meta (Facebook and Instagram ads) as a DataDrip platform plug-in: the object the
`datadrip.platforms` entry point `meta` names."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from datadrip.core.errors import UsageError
from datadrip.platforms.meta.connector import MetaAds
from datadrip.platforms.meta.settings import MetaSettings

if TYPE_CHECKING:
    from datadrip.platforms.base import ConnectorContext

# Marketing API versions and when they stop answering (reference: meta-marketing-api.md §0).
SUNSETS = {"v21.0": dt.date(2027, 1, 21), "v25.0": dt.date(2028, 7, 29)}


class MetaPlatform:
    name = "meta"
    label = "Meta"
    colour = "#1877F2"
    token_kind = "token"
    settings_model = MetaSettings
    secrets = {"meta.app_secret": ("DATADRIP_META_APP_SECRET",)}

    def sunset(self, api_version: str) -> dt.date | None:
        return SUNSETS.get(api_version)

    def account_id(self, text: str) -> str:
        """Meta's "act_<digits>"; the digits alone are accepted too."""
        digits = text.strip().removeprefix("act_")
        if digits.isdigit():
            return f"act_{digits}"
        raise UsageError(f"{text!r} is not a Meta ad account id",
                         hint="Give the id as act_1234567890 or 1234567890.")

    def open_connector(self, context: ConnectorContext) -> MetaAds:
        meta = getattr(context.settings, self.name)
        return MetaAds(http=context.http, graph_url=meta.graph_url, api_version=meta.api_version,
                       access_token=context.get_token(False), sleep=context.sleep,
                       retry=context.retry, on_wait=context.on_wait)


platform = MetaPlatform()
