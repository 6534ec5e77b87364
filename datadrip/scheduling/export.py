"""The timetable for people and other schedulers: the next runs, crontab lines, a systemd unit."""

from __future__ import annotations

import datetime as dt
import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from datadrip.core.config import ENV_PREFIX, RESERVED_ENV, Loaded
from datadrip.core.cron import Cron
from datadrip.db.engine import open_workbook
from datadrip.scheduling.runs import recent_runs
from datadrip.scheduling.timetable import JOBS, has_dst, job_crons, next_runs

# The commands each job stands for under cron ({agency} is the agency's quoted name); the sync is
# followed by new suggestions, as in the daemon, so the morning's reports show them.
CRON_COMMANDS = {
    "refresh_tokens": ("account check",),
    "sync": ("sync --agency {agency}", "insight generate --agency {agency}"),
    "reports": ("report send --all --agency {agency}",),
    "weekly_reports": ("report send --all --kind weekly --agency {agency}",),
}


def _agencies(loaded: Loaded) -> list[tuple[str, str, str]]:
    from datadrip.scheduling.runs import agencies

    engine = open_workbook(loaded.workbook_target,
                           busy_timeout_seconds=loaded.settings.workbook.busy_timeout_seconds)
    try:
        return agencies(engine)
    finally:
        engine.dispose()


def _last_runs(loaded: Loaded) -> dict[tuple[str, str], dict[str, Any]]:
    engine = open_workbook(loaded.workbook_target,
                           busy_timeout_seconds=loaded.settings.workbook.busy_timeout_seconds)
    try:
        last: dict[tuple[str, str], dict[str, Any]] = {}
        for run in reversed(recent_runs(engine, limit=500)):
            last[(run["agency"], run["job"])] = run
        return last
    finally:
        engine.dispose()


def schedule_records(loaded: Loaded, now: dt.datetime) -> list[dict[str, Any]]:
    """Every enabled job per agency with its next run (local and UTC) and its last run, if any."""
    agencies = [(name, timezone) for _id, name, timezone in _agencies(loaded)]
    settings = loaded.settings.schedule
    last = _last_runs(loaded)
    records = []
    for run in next_runs(agencies, settings, now):
        previous = last.get((run.agency, run.job), {})
        records.append({"agency": run.agency, "timezone": run.timezone, "job": run.job,
                        "cron": getattr(settings, run.job),
                        "next_run_local": run.local.isoformat(timespec="minutes"),
                        "next_run_utc": run.utc.isoformat(timespec="minutes"),
                        "last_status": previous.get("status"),
                        "last_started_at": previous.get("started_at")})
    return records


def _executable() -> str:
    beside = Path(sys.executable).parent / "datadrip"
    return str(beside) if beside.exists() else shutil.which("datadrip") or "datadrip"


def _env_lines(env: Mapping[str, str], loaded: Loaded) -> dict[str, str]:
    """The environment a scheduler must give DataDrip to find this config and workbook
    (settings only: secrets stay in the secret store)."""
    secret_env = {name for names in loaded.secret_env.values() for name in names}
    found = {"DATADRIP_HOME": env["DATADRIP_HOME"]} if env.get("DATADRIP_HOME") else {}
    if loaded.config_file_found:
        found["DATADRIP_CONFIG"] = str(loaded.paths.config_file.resolve())
    for name, value in sorted(env.items()):
        if name.startswith(ENV_PREFIX) and name not in RESERVED_ENV and name not in secret_env:
            found[name] = value
    return found


def crontab_text(loaded: Loaded, now: dt.datetime, *, utc: bool = False,
                 env: Mapping[str, str] | None = None) -> str:
    """Crontab lines equivalent to the daemon's timetable, per agency."""
    env = os.environ if env is None else env
    program = shlex.quote(_executable())
    crons = job_crons(loaded.settings.schedule)
    lines = [
        "# DataDrip's [schedule] as crontab lines (install: datadrip schedule cron | crontab -).",
        "# Cron reads times in the machine's timezone. Each agency's times are its own, so",
        "# CRON_TZ=<zone> comes before its lines: cronie (Fedora, RHEL, Arch) and systemd-cron honour",
        "# it; Debian's and Ubuntu's cron ignore it, so there use `datadrip schedule cron --utc`,",
        "# whose lines are in UTC and right until the next daylight-saving change named below.",
        "# Under cron a report goes at its time whatever that day's sync did; the daemon instead",
        "# holds it until the sync succeeds or [schedule] report_deadline passes.",
    ]
    if utc:
        lines.append("# These lines are in UTC: right where cron runs in UTC (`date +%Z` prints UTC).")
    lines += [f"{name}={_cron_escape(shlex.quote(value))}" for name, value in _env_lines(env, loaded).items()]
    first = True
    for _id, name, timezone in _agencies(loaded):
        zone = ZoneInfo(timezone)
        lines.append("")
        lines.append(f"# {name} ({timezone}, now UTC{_offset(now.astimezone(zone))})")
        change = _next_change(zone, now)
        if utc and change is not None:
            lines.append(f"# The UTC times below hold until {change:%Y-%m-%d %H:%M} UTC, when "
                         f"{timezone} changes its clocks: run this again then.")
        if not utc:
            lines.append(f"CRON_TZ={timezone}")
        for job in JOBS:
            if job not in crons or (job == "refresh_tokens" and not first):
                continue
            command = _cron_escape(" && ".join(f"{program} {step.format(agency=shlex.quote(name))}"
                                               for step in CRON_COMMANDS[job]))
            if job == "refresh_tokens":
                lines.append("# every agency's logins, checked and renewed")
            for when in (_to_utc(crons[job], zone, now) if utc else [crons[job].text]):
                lines.append(f"{when} {command}" if not when.startswith("#") else when)
        first = False
    if utc:
        lines.append("")
    return "\n".join(lines) + "\n"


def _cron_escape(text: str) -> str:
    return text.replace("%", "\\%")  # cron turns an unescaped % into a newline


def _offset(local: dt.datetime) -> str:
    offset = local.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _next_change(zone: ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    """When the zone's UTC offset next changes (within a year), to the hour."""
    if not (has_dst(zone.key, now.year) or has_dst(zone.key, now.year + 1)):
        return None
    current = now.astimezone(zone).utcoffset()
    moment = now.replace(minute=0, second=0, microsecond=0)
    for _ in range(366 * 24):
        moment += dt.timedelta(hours=1)
        if moment.astimezone(zone).utcoffset() != current:
            return moment
    return None


def _to_utc(cron: Cron, zone: ZoneInfo, now: dt.datetime) -> list[str]:
    """The expression's times moved to UTC at today's offset (days shift with them)."""
    offset = int((now.astimezone(zone).utcoffset() or dt.timedelta(0)).total_seconds() // 60)
    groups: dict[tuple[int, int], set[int]] = {}
    for at in cron.times():
        total = at.hour * 60 + at.minute - offset
        day_shift, minute_of_day = divmod(total, 1440)
        groups.setdefault((minute_of_day % 60, day_shift), set()).add(minute_of_day // 60)
    if not (cron.any_day and cron.months == frozenset(range(1, 13))) and \
            any(shift for _minute, shift in groups):
        return [f"# {cron.text!r} in {zone.key} crosses midnight in UTC: write its UTC lines by hand"]
    lines = []
    for (minute, shift), hours in sorted(groups.items()):
        weekdays = "*" if cron.any_weekday else \
            ",".join(str(day) for day in sorted({(day + shift) % 7 for day in cron.weekdays}))
        lines.append(f"{minute} {','.join(str(hour) for hour in sorted(hours))} "
                     f"{cron.fields[2]} {cron.fields[3]} {weekdays}")
    return lines


def systemd_unit(loaded: Loaded, env: Mapping[str, str] | None = None) -> str:
    """A systemd user unit running `datadrip daemon` with this config's environment."""
    env = os.environ if env is None else env
    lines = [
        "# DataDrip's scheduler as a systemd user service. Install:",
        "#   datadrip schedule systemd > ~/.config/systemd/user/datadrip.service",
        "#   systemctl --user daemon-reload && systemctl --user enable --now datadrip",
        "#   loginctl enable-linger \"$USER\"   # keep it running when you are logged out",
        "# Without a desktop session there is no OS keyring: keep secrets in the encrypted file",
        "# ([secrets] backend = \"file\") and give its key in an EnvironmentFile, never here.",
        "[Unit]",
        "Description=DataDrip scheduler: syncs and client reports",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={shlex.quote(_executable())} daemon",
        f"WorkingDirectory={loaded.paths.data_dir}",
    ]
    lines += [f"Environment={_systemd_quote(f'{name}={value}')}"
              for name, value in _env_lines(env, loaded).items()]
    lines += [
        "# SIGTERM: the job under way finishes (a sync stops after its chunk in flight), then exit 0.",
        "KillSignal=SIGTERM",
        "TimeoutStopSec=120",
        "Restart=on-failure",
        "RestartSec=30",
        "",
        "[Install]",
        "WantedBy=default.target",
    ]
    return "\n".join(lines) + "\n"


def _systemd_quote(text: str) -> str:
    if not any(ch in text for ch in " \"'\\$%"):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'
