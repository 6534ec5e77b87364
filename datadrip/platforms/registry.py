"""Finding platforms: the `datadrip.platforms` entry-point group, where the built-in Meta and
Google Ads plug-ins register too, so a third-party package adds a platform by declaring one entry
point (`linkedin = "datadrip_linkedin:platform"`) that names a `PlatformPlugin` object.

Entry points are read once per process; a plug-in is imported the first time it is asked for, so
naming the installed platforms costs no import.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from datadrip.core import config
from datadrip.core.errors import DataDripError, UsageError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from datadrip.core.config import Loaded
    from datadrip.platforms.base import Connector, ConnectorContext, PlatformPlugin

GROUP = "datadrip.platforms"


class PlatformNotInstalledError(UsageError):
    """A platform named (by a command, or by an account in the workbook) that no installed
    package provides."""


@dataclass(frozen=True)
class Installed:
    """One installed platform as `datadrip platform list` shows it."""

    name: str
    label: str
    package: str  # the distribution that provides it ("datadrip" for the built-in ones)
    version: str
    entry_point: str  # "datadrip.platforms.meta.plugin:platform"


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points

    found: dict[str, EntryPoint] = {}
    for entry in sorted(entry_points(group=GROUP), key=lambda e: (e.name, e.value)):
        found.setdefault(entry.name, entry)
    return found


def platform_names() -> list[str]:
    """The installed platforms' names, without importing any of them."""
    return sorted(_entry_points())


def is_installed(name: str) -> bool:
    return name in _entry_points()


@functools.cache
def platform(name: str) -> PlatformPlugin:
    """The plug-in of `name`; PlatformNotInstalledError when no installed package provides it."""
    entry = _entry_points().get(name)
    if entry is None:
        installed = ", ".join(platform_names()) or "none"
        raise PlatformNotInstalledError(
            f"platform {name!r} is not installed (installed: {installed})",
            hint="See 'datadrip platform list'; install the package that provides it.")
    try:
        plugin = entry.load()
    except (ImportError, AttributeError) as exc:
        raise DataDripError(f"the {name!r} platform ({entry.value}) cannot be loaded: "
                            f"{type(exc).__name__}: {exc}",
                            hint="Reinstall the package that provides it.") from None
    if getattr(plugin, "name", None) != name:
        raise DataDripError(f"the {name!r} platform entry point ({entry.value}) names an object "
                            f"whose name is {getattr(plugin, 'name', None)!r}",
                            hint="Reinstall the package that provides it.")
    return plugin  # type: ignore[no-any-return]


def platforms() -> list[PlatformPlugin]:
    """Every installed plug-in, by name."""
    return [platform(name) for name in platform_names()]


def installed() -> list[Installed]:
    """The installed platforms with the package and version that provide each."""
    rows = []
    for name, entry in sorted(_entry_points().items()):
        dist = entry.dist
        rows.append(Installed(name, platform(name).label, dist.name if dist else "?",
                              dist.version if dist else "?", entry.value))
    return rows


def label(name: str) -> str:
    """How people read a platform's name ("Google Ads"); the bare name when it is not installed."""
    return platform(name).label if is_installed(name) else name


def load_settings(config_flag: Path | None = None, env: Mapping[str, str] | None = None,
                  *, must_exist: bool = True) -> Loaded:
    """The settings with every installed platform's [section] and secrets: what commands, the
    daemon and the demo read (core.config.load_settings knows no platform)."""
    plugins = platforms()
    return config.load_settings(
        config_flag, env, must_exist=must_exist,
        sections={plugin.name: plugin.settings_model for plugin in plugins},
        secrets={name: variables for plugin in plugins for name, variables in plugin.secrets.items()})


def open_connector(name: str, context: ConnectorContext) -> Connector:
    return platform(name).open_connector(context)
