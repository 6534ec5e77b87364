"""`datadrip demo`: a demo workbook in a folder of its own, filled through the real services."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datadrip.config import CONFIG_FILENAME, WORKBOOK_FILENAME, example_text, load_settings
from datadrip.enums import Plan, Role
from datadrip.errors import UsageError

MARKER = ".datadrip-demo"
ACTOR = "demo"

AGENCY_NAME = "Spice Route Media"
CLIENTS = [
    {"name": "Masala Mornings", "currency": "INR", "monthly_budget": "150000",
     "recipients": "owner@masalamornings.example"},
    {"name": "Peak Trail Outfitters", "currency": "USD", "monthly_budget": "12000",
     "recipients": "marketing@peaktrail.example,ops@peaktrail.example"},
    {"name": "Bloom Botanics", "currency": "INR", "monthly_budget": "80000.50",
     "recipients": "hello@bloombotanics.example"},
]
TEAM = [("priya@spiceroute.example", Role.OWNER), ("arjun@spiceroute.example", Role.MEMBER)]


@dataclass
class DemoResult:
    home: Path
    agencies: list[dict[str, Any]] = field(default_factory=list)
    clients: list[dict[str, Any]] = field(default_factory=list)
    team: list[dict[str, Any]] = field(default_factory=list)


def run_demo(home: Path) -> DemoResult:
    """Reset the demo folder and fill it with a demo agency, its clients and team."""
    from datadrip.agencies import AgencyChanges, add_agency, agency_counts, agency_record
    from datadrip.clients import ClientChanges, add_client, client_record
    from datadrip.team import add_user, user_record
    from datadrip.workbook import Workbook, open_session

    _reset(home)
    loaded = load_settings(home / CONFIG_FILENAME, env={"DATADRIP_HOME": str(home)})
    result = DemoResult(home)
    with open_session(loaded, write=True) as opened:
        wb = Workbook(opened.session, ACTOR)
        agency = add_agency(wb, AGENCY_NAME, AgencyChanges(
            timezone="Asia/Kolkata", currency="INR", locale="en_IN", plan=Plan.GROWTH,
            colour="#E4572E"))
        for spec in CLIENTS:
            client = add_client(wb, spec["name"], agency.id, ClientChanges(
                currency=spec["currency"], monthly_budget=spec["monthly_budget"],
                recipients=spec["recipients"]))
            result.clients.append(client_record(client, agency, 0))
        for email, role in TEAM:
            user, _ = add_user(wb, email, agency.id, role)
            result.team.append(user_record(user, agency))
        result.agencies.append(agency_record(agency, agency_counts(wb.session, agency.id)))
    return result


def _reset(home: Path) -> None:
    """Start from nothing, but only in a folder that is empty or that a demo made."""
    if home.exists() and not home.is_dir():
        raise UsageError(f"{home} is a file, not a folder", hint="Name a new folder with --dir.")
    if home.exists() and any(home.iterdir()) and not (home / MARKER).exists():
        raise UsageError(f"{home} is not empty and is not a demo folder",
                         hint="Name a new folder with --dir; the demo never touches other files.")
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise UsageError(f"cannot make the demo folder {home}: {exc.strerror}",
                         hint="Name another folder with --dir.") from None
    (home / MARKER).write_text("Made by `datadrip demo`; it resets this folder.\n")
    for name in (WORKBOOK_FILENAME, f"{WORKBOOK_FILENAME}-wal", f"{WORKBOOK_FILENAME}-shm"):
        (home / name).unlink(missing_ok=True)
    (home / CONFIG_FILENAME).write_text(example_text(), encoding="utf-8")
