"""API versions near their end: each connected platform's configured `api_version` against the day
its plug-in says that version stops answering (`PlatformPlugin.sunset`), for `account check` and
`status`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from datadrip.platforms import registry

if TYPE_CHECKING:
    from datadrip.core.config import Settings

WARN_DAYS = 60  # a sunset this close (or past) is said


@dataclass(frozen=True)
class ApiSunset:
    """A platform whose configured API version stops answering on `sunset` (or has stopped)."""

    platform: str
    label: str
    api_version: str
    sunset: dt.date
    today: dt.date

    @property
    def days_left(self) -> int:
        return (self.sunset - self.today).days

    @property
    def warning(self) -> str:
        """"the Google Ads API v22 stops answering on 2026-10-07 (in 48 days); set [google]
        api_version to a newer version"."""
        days = self.days_left
        if days < 0:
            when = f"stopped answering on {self.sunset}"
        else:
            left = "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"
            when = f"stops answering on {self.sunset} ({left})"
        return (f"the {self.label} API {self.api_version} {when}; set [{self.platform}] api_version "
                "to a newer version")

    def record(self) -> dict[str, object]:
        return {"platform": self.platform, "api_version": self.api_version, "sunset": self.sunset,
                "days_left": self.days_left, "warning": self.warning}


def api_sunsets(settings: Settings, platforms: Iterable[str], today: dt.date) -> list[ApiSunset]:
    """The platforms among `platforms` (those with connected accounts) whose settings section's
    `api_version` ends within WARN_DAYS of `today` or has ended; platforms not installed, or
    whose section names no API version, are left out."""
    found = []
    for name in sorted(set(platforms)):
        if not registry.is_installed(name):
            continue
        version = getattr(getattr(settings, name, None), "api_version", None)
        if not isinstance(version, str):
            continue
        plugin = registry.platform(name)
        sunset = plugin.sunset(version)
        if sunset is not None and (sunset - today).days <= WARN_DAYS:
            found.append(ApiSunset(name, plugin.label, version, sunset, today))
    return found
