"""Which breakdowns a client's sync fetches: its own list (`client edit --breakdowns`), else its
agency's (`agency edit --breakdowns`), else `[sync] breakdowns`. One home for reading the option,
for clients and agencies alike, and for telling which list applies and where it comes from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datadrip.core.config import parse_breakdowns
from datadrip.core.errors import UsageError

CLIENT, AGENCY, SETTING = "client", "agency", "[sync] breakdowns"


def breakdowns_option(text: str, *, default: str = "[sync] breakdowns") -> list[str] | None:
    """`--breakdowns` read: names (config.BREAKDOWN_NAMES), "none" for none ([]), "" for the
    `default` (None). An unknown name is a UsageError listing the known ones."""
    if not text.strip():
        return None
    if text.strip().lower() == "none":
        return []
    try:
        return list(parse_breakdowns(text))
    except ValueError as exc:
        raise UsageError(f"--breakdowns: {exc}",
                         hint=f"e.g. --breakdowns age_gender,country; \"none\" for none; \"\" "
                              f"for {default}.") from None


@dataclass(frozen=True)
class BreakdownsInUse:
    """The breakdown names a sync uses and who chose them (CLIENT, AGENCY or SETTING)."""

    names: tuple[str, ...]
    source: str

    def record(self) -> dict[str, Any]:
        """`breakdowns_in_use` (the names) and `breakdowns_from` (who chose them), as records show
        them."""
        return {"breakdowns_in_use": list(self.names), "breakdowns_from": self.source}


def breakdowns_in_use(client: list[str] | None, agency: list[str] | None,
                      setting: str) -> BreakdownsInUse:
    """The list that applies: the client's own, else its agency's, else `setting` (`[sync]
    breakdowns`, already checked when the configuration was read)."""
    if client is not None:
        return BreakdownsInUse(tuple(client), CLIENT)
    if agency is not None:
        return BreakdownsInUse(tuple(agency), AGENCY)
    return BreakdownsInUse(parse_breakdowns(setting), SETTING)
