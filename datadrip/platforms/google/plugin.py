"""Google Ads as a DataDrip platform plug-in: the object the `datadrip.platforms` entry point
`google` names."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from datadrip.core.errors import UsageError
from datadrip.platforms.google.connector import GoogleAds
from datadrip.platforms.google.settings import GoogleSettings

if TYPE_CHECKING:
    from datadrip.platforms.base import ConnectorContext

# Google Ads API majors and their sunsets (reference: google-ads-api.md, version timetable); the
# projected ones are the month's first day until Google names the day.
SUNSETS = {"v19": dt.date(2026, 2, 11), "v20": dt.date(2026, 6, 10), "v21": dt.date(2026, 8, 5),
           "v22": dt.date(2026, 10, 7), "v23": dt.date(2027, 2, 1), "v24": dt.date(2027, 5, 1),
           "v25": dt.date(2027, 8, 1), "v26": dt.date(2027, 11, 1)}


class GooglePlatform:
    name = "google"
    label = "Google Ads"
    colour = "#34A853"
    token_kind = "refresh token"
    settings_model = GoogleSettings
    secrets = {"google.client_secret": ("DATADRIP_GOOGLE_CLIENT_SECRET",),
               "google.developer_token": ("DATADRIP_GOOGLE_DEVELOPER_TOKEN",)}

    def sunset(self, api_version: str) -> dt.date | None:
        return SUNSETS.get(api_version.split("_")[0])

    def account_id(self, text: str) -> str:
        """Google's customer id as ten digits; 123-456-7890 is accepted too."""
        digits = text.strip().replace("-", "")
        if re.fullmatch(r"\d{10}", digits):
            return digits
        raise UsageError(f"{text!r} is not a Google Ads customer id",
                         hint="Give the ten-digit id, e.g. 123-456-7890 or 1234567890.")

    def open_connector(self, context: ConnectorContext) -> GoogleAds:
        google = getattr(context.settings, self.name)
        return GoogleAds(http=context.http, api_url=google.api_url, api_version=google.api_version,
                         get_token=context.get_token,
                         developer_token=context.secrets.get("google.developer_token") or None,
                         sleep=context.sleep, retry=context.retry, on_wait=context.on_wait)


platform = GooglePlatform()
