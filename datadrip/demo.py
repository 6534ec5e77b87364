"""`datadrip demo`: a demo workbook in a folder of its own, filled through the real services."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datadrip.analytics.dashboard import agency_dashboard
from datadrip.analytics.totals import agency_scope, agency_today
from datadrip.core.config import CONFIG_FILENAME, WORKBOOK_FILENAME, example_text
from datadrip.core.enums import Plan, Role, SendStatus
from datadrip.core.errors import DataDripError, UsageError
from datadrip.core.periods import preset_period
from datadrip.core.private_files import make_folder, write_new
from datadrip.db.models import Report
from datadrip.insights.generate import GenerateRequest, generate_insights
from datadrip.platforms.registry import load_settings
from datadrip.reports.files import report_path, write_file
from datadrip.reports.send import SendRequest, send_reports
from datadrip.sandbox.app import SandboxConfig
from datadrip.sandbox.server import SandboxServer
from datadrip.secrets.file import KEY_FILENAME, STORE_FILENAME
from datadrip.secrets.store import open_store
from datadrip.sync.run import SyncRequest, sync_accounts
from datadrip.workbook.accounts import list_connections
from datadrip.workbook.agencies import AgencyChanges, add_agency, agency_counts, agency_or_only, agency_record
from datadrip.workbook.clients import ClientChanges, add_client, client_record
from datadrip.workbook.connect import ConnectRequest, ConnectUi, connect_accounts
from datadrip.workbook.fx import rate_input, set_rates
from datadrip.workbook.session import Workbook, open_session
from datadrip.workbook.team import add_user, user_record

if TYPE_CHECKING:
    from datadrip.analytics.dashboard import AgencyDashboard
    from datadrip.core.config import Loaded
    from datadrip.sync.run import SyncUi

MARKER = ".datadrip-demo"
ACTOR = "demo"

AGENCY_NAME = "Spice Route Media"
CLIENTS: list[dict[str, Any]] = [
    {"name": "Masala Mornings", "currency": "INR", "monthly_budget": "600000",
     "recipients": "owner@masalamornings.example"},
    # Set before its Google account's spend rose 60 % (the sandbox's "overspend" story): the
    # insights and the report's pacing show the month heading over budget.
    {"name": "Peak Trail Outfitters", "currency": "USD", "monthly_budget": "24000",
     "recipients": "marketing@peaktrail.example,ops@peaktrail.example"},
    {"name": "Bloom Botanics", "currency": "INR", "monthly_budget": "1500000.50",
     "recipients": "hello@bloombotanics.example"},
    # The sandbox's story accounts (its Meta act_1010000005…7 and Google Ads 2020000005). A shop
    # reporting purchases and add-to-carts, with an ad set on 1-day click attribution, a Meta
    # campaign archived and a Google one removed, each after spending this week.
    {"name": "Kettle & Crumb", "currency": "USD", "monthly_budget": "24000",
     "recipients": "orders@kettleandcrumb.example", "results": "purchase,add_to_cart"},
    # A dental clinic paying for leads: its reports show leads and the cost per lead.
    {"name": "Harbour Dental", "currency": "EUR", "monthly_budget": "5000",
     "recipients": "front-desk@harbourdental.example", "results": "lead"},
    # A tea house in Tokyo without a monthly budget: its reports pace its spend against its
    # campaigns' daily budgets, the first of them ¥5,000.
    {"name": "Sakura Tea House", "currency": "JPY", "monthly_budget": None,
     "recipients": "info@sakuratea.example"},
]
TEAM = [("priya@spiceroute.example", Role.OWNER), ("arjun@spiceroute.example", Role.MEMBER)]
# Each demo client is connected to the account at its own position in every emulated platform's
# list (the sandbox's Meta act_1010000001, 2, 3, 5, 6, 7 and Google Ads 2020000001, 2, 3, 5, in
# CLIENTS' order; a client past the end of a platform's list has no account there).
# Rates to blend the demo's dollar, euro and yen accounts into the agency's rupees (datadrip fx set).
FX_RATES = [("USD", "INR", "83.10"), ("EUR", "INR", "90.45"), ("JPY", "INR", "0.5560")]
# The sandbox as `datadrip sandbox serve` serves it: the default accounts and the stories'.
SANDBOX = SandboxConfig(seed=7, story_accounts=True)
SANDBOX_PORT = 8790  # the demo's config points here, so `datadrip sandbox serve --port` revives it


@dataclass
class DemoResult:
    home: Path
    agencies: list[dict[str, Any]] = field(default_factory=list)
    clients: list[dict[str, Any]] = field(default_factory=list)
    team: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    synced: list[dict[str, Any]] = field(default_factory=list)
    sandbox_port: int = SANDBOX_PORT
    dashboard: AgencyDashboard | None = None  # the agency's last 7 days, once synced
    reports: list[dict[str, Any]] = field(default_factory=list)  # each client's daily report
    insights: list[dict[str, Any]] = field(default_factory=list)  # each client's generate run
    # The sandbox's planted stories in the demo's accounts: what to look for, and where.
    stories: list[dict[str, Any]] = field(default_factory=list)


def run_demo(home: Path, sync_ui: SyncUi | None = None) -> DemoResult:
    """Reset the demo folder, fill it with a demo agency, its clients and team, connect the
    clients to the embedded sandbox's accounts and sync them, all through the real services."""
    _reset(home)
    try:
        server = SandboxServer(SANDBOX, port=SANDBOX_PORT)
    except OSError:  # the port is taken (a sandbox already serving it, say): any free one will do
        server = SandboxServer(SANDBOX)
    with server:
        description = server.app.describe(server.base_url)
        write_new(home / CONFIG_FILENAME,
                  _sandbox_config(example_text(), description).encode("utf-8"))
        result = _fill(home)
        result.sandbox_port = server.port
        loaded = load_settings(home / CONFIG_FILENAME, env={"DATADRIP_HOME": str(home)})
        result.accounts = _connect(loaded, description)
        result.stories = _stories(description, result.accounts)
        result.synced = _sync(loaded, sync_ui)
        result.insights = _insights(loaded)  # the sandbox's model answers; reports show them
    _count_accounts(loaded, result)
    result.dashboard = _dashboard(loaded)
    result.reports = _reports(loaded, home)
    return result


def _stories(description: dict[str, Any], accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sandbox's planted stories, each with the demo client and account it lives in (a story
    of an account no demo client has is left out), in the order of the clients' accounts."""
    owners = {(account["platform"], account["account_id"].removeprefix("act_")):
              (account["client"], account["account_id"]) for account in accounts}
    platforms = {account_id: platform for platform in description["platforms"]
                 for account_id in description[platform]["connect"]["account_ids"]}
    found = []
    for story in description["stories"]:
        platform = next((name for account_id, name in platforms.items()
                         if account_id.removeprefix("act_") == story["account_id"]), None)
        owner = owners.get((platform or "", story["account_id"]))
        if platform is not None and owner is not None:
            found.append({"client": owner[0], "platform": platform, "account_id": owner[1],
                          "kind": story["kind"], "description": story["description"]})
    order = {(a["platform"], a["account_id"]): n for n, a in enumerate(accounts)}
    return sorted(found, key=lambda story: order[story["platform"], story["account_id"]])


def _reports(loaded: Loaded, home: Path) -> list[dict[str, Any]]:
    """Every client's daily report sent to the demo's outbox (.eml files, nothing leaves the
    machine), each also kept as an HTML file to open in a browser."""
    outcome = send_reports(loaded, SendRequest(all_clients=True))
    failed = outcome.having(SendStatus.FAILED)
    if failed:
        raise DataDripError(f"the demo report for {failed[0].client} failed: {failed[0].reason}",
                            hint=failed[0].hint)
    reports = []
    with open_session(loaded) as wb:
        for sent in outcome.reports:
            assert sent.since is not None and sent.until is not None
            html = report_path(home, sent.client, sent.kind, sent.since, sent.until)
            row = wb.session.get(Report, sent.report_id)
            assert row is not None  # just sent
            write_file(html, row.html, own_folder=True)
            reports.append({**sent.record(), "html_file": str(html), "eml_file": sent.provider_id})
    return reports


def _insights(loaded: Loaded) -> list[dict[str, Any]]:
    """Every client's suggestions, from the sandbox's OpenAI-compatible model behind the guardrails
    (the heuristics' when it fails, as for a real server)."""
    return [run.record() for run in generate_insights(loaded, GenerateRequest()).runs]


def _dashboard(loaded: Loaded) -> AgencyDashboard:
    """The demo agency's dashboard over the last 7 days, as `datadrip dashboard` shows it."""
    with open_session(loaded) as wb:
        agency = agency_or_only(wb.session, AGENCY_NAME)
        period = preset_period("last-7-days", agency_today(agency))
        return agency_dashboard(wb.session, agency_scope(wb.session, agency), period)


def _count_accounts(loaded: Loaded, result: DemoResult) -> None:
    """The client records as they are now, with their connected accounts counted."""
    with open_session(loaded) as wb:
        counts: dict[str, int] = {}
        for _, client, _ in list_connections(wb.session):
            counts[client.id] = counts.get(client.id, 0) + 1
    for record in result.clients:
        record["ad_accounts"] = counts.get(record["id"], 0)


def _fill(home: Path) -> DemoResult:
    """The demo agency, its clients and team."""
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
                recipients=spec["recipients"], key_results=spec.get("results")))
            result.clients.append(client_record(client, agency, 0,
                                                setting=loaded.settings.sync.breakdowns))
        for email, role in TEAM:
            user, _ = add_user(wb, email, agency.id, role)
            result.team.append(user_record(user, agency))
        result.agencies.append(agency_record(agency, agency_counts(wb.session, agency.id),
                                             setting=loaded.settings.sync.breakdowns))
        set_rates(wb.session, ACTOR, [rate_input(*rate, None) for rate in FX_RATES], source="demo")
    return result


def _connect(loaded: Loaded, description: dict[str, Any]) -> list[dict[str, Any]]:
    """Store the sandbox apps' secrets, then connect every demo client with the sandbox's tokens."""
    store, _ = open_store(loaded, announce=False)
    for platform in description["platforms"]:
        for name, value in description[platform]["connect"]["secrets"].items():
            store.set(name, value)
    store.set("ai.api_key", description["openai"]["api_key"])

    def no_person(*_args: Any) -> Any:
        raise UsageError("the demo connects without a person")  # stdin tokens need no browser

    ui = ConnectUi(on_url=no_person, read_pasted=no_person, choose=no_person)
    accounts: list[dict[str, Any]] = []
    for position, client in enumerate(spec["name"] for spec in CLIENTS):
        for platform in description["platforms"]:
            offered = description[platform]["connect"]
            if position >= len(offered["account_ids"]):
                continue  # an emulation with fewer accounts than the demo has clients
            outcome = connect_accounts(loaded, ConnectRequest(
                platform=platform, client_ref=client, accounts=[offered["account_ids"][position]],
                stdin_token=offered["token"]), ui)
            accounts.extend(outcome.accounts)
    return accounts


def _sync(loaded: Loaded, ui: SyncUi | None) -> list[dict[str, Any]]:
    outcome = sync_accounts(loaded, SyncRequest(), ui)
    if outcome.failed:
        first = outcome.failed[0]
        raise DataDripError(f"the demo sync failed for {first.client} ({first.platform} "
                            f"{first.account_id}): {first.error}", hint=first.hint)
    return [account.record() for account in outcome.accounts]


def _sandbox_config(example: str, description: dict[str, Any]) -> str:
    """The example configuration with the sandbox's URLs and ids filled in; a platform whose
    section the example lacks (a plug-in's) gets its own section at the end."""
    values: dict[str, dict[str, Any]] = {platform: description[platform]["connect"]["settings"]
                                         for platform in description["platforms"]}
    values.update({"ai": {"base_url": description["openai"]["base_url"]},
                   "secrets": {"backend": "file"}, "user": {"email": ACTOR}})
    lines, section, written = [], "", set()
    for line in example.splitlines():
        if line.startswith("[") and line.rstrip().endswith("]"):
            section = line.strip("[] \n")
        key = line.removeprefix("# ").split(" = ", 1)[0] if line.startswith("# ") and " = " in line \
            else None
        if key is not None and key in values.get(section, {}):
            line = f"{key} = {json.dumps(values[section][key])}"  # a TOML string, number or bool
            written.add((section, key))
        lines.append(line)
    for section, keys in values.items():
        missing = [key for key in keys if (section, key) not in written]
        if missing:
            lines += ["", f"[{section}]", *(f"{key} = {json.dumps(keys[key])}" for key in missing)]
    return "\n".join(lines) + "\n"


def _reset(home: Path) -> None:
    """Start from nothing, but only in a folder that is empty or that a demo made."""
    if home.exists() and not home.is_dir():
        raise UsageError(f"{home} is a file, not a folder", hint="Name a new folder with --dir.")
    if home.exists() and any(home.iterdir()) and not (home / MARKER).exists():
        raise UsageError(f"{home} is not empty and is not a demo folder",
                         hint="Name a new folder with --dir; the demo never touches other files.")
    try:
        make_folder(home)
    except OSError as exc:
        raise UsageError(f"cannot make the demo folder {home}: {exc.strerror}",
                         hint="Name another folder with --dir.") from None
    write_new(home / MARKER, b"Made by `datadrip demo`; it resets this folder.\n")
    for folder in ("outbox", "reports", f"{WORKBOOK_FILENAME}.send-locks"):
        shutil.rmtree(home / folder, ignore_errors=True)
    for name in (WORKBOOK_FILENAME, f"{WORKBOOK_FILENAME}-wal", f"{WORKBOOK_FILENAME}-shm",
                 f"{WORKBOOK_FILENAME}.sync-lock", STORE_FILENAME, KEY_FILENAME):
        (home / name).unlink(missing_ok=True)
