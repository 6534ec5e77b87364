"""Finding connectors: the `datadrip.connectors` entry-point group, where the built-in ones register
too, so a third-party package adds a platform by declaring one entry point."""

from __future__ import annotations

from typing import TYPE_CHECKING

from datadrip.core.errors import DataDripError

if TYPE_CHECKING:
    from datadrip.platforms.base import Connector, ConnectorContext, ConnectorFactory

GROUP = "datadrip.connectors"


def connector_names() -> list[str]:
    """The platforms with an installed connector."""
    from importlib.metadata import entry_points

    return sorted({entry.name for entry in entry_points(group=GROUP)})


def connector_factory(platform: str) -> ConnectorFactory:
    """The factory registered for `platform`; a clear error when none is installed."""
    from importlib.metadata import entry_points

    found = [entry for entry in entry_points(group=GROUP) if entry.name == platform]
    if not found:
        installed = ", ".join(connector_names()) or "none"
        raise DataDripError(f"no connector for {platform!r} is installed (installed: {installed})",
                            hint="Reinstall DataDrip (pip install --force-reinstall datadrip), "
                                 "or install the package that provides this platform.")
    try:
        factory = found[0].load()
    except (ImportError, AttributeError) as exc:
        raise DataDripError(f"the {platform!r} connector ({found[0].value}) cannot be loaded: "
                            f"{type(exc).__name__}: {exc}",
                            hint="Reinstall the package that provides it.") from None
    if not callable(factory):
        raise DataDripError(f"the {platform!r} connector entry point ({found[0].value}) is not "
                            "callable")
    return factory  # type: ignore[no-any-return]


def open_connector(platform: str, context: ConnectorContext) -> Connector:
    return connector_factory(platform)(context)
