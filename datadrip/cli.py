"""The root command: mounts one sub-app per noun, and is the one place errors become exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from datadrip import __version__
from datadrip.commands._context import Invocation
from datadrip.core.errors import DataDripError, ExitCode
from datadrip.core.text import printable

# Every command: (name, module of datadrip.commands, its function or Typer there, the first sentence
# of its help). A command's module is imported, and its options built, only when the command runs:
# `datadrip --help` lists them from here (a test keeps these sentences equal to the commands' own).
COMMANDS: tuple[tuple[str, str, str, str], ...] = (
    ("init", "setup", "init",
     "Create the config file (commented, from datadrip.toml.example) and the workbook."),
    ("disconnect", "connect", "disconnect",
     "Disconnect a client's accounts: remove them with their metrics, and delete (and revoke) the "
     "login when no other account uses it."),
    ("sync", "sync", "sync",
     "Fetch daily campaign, ad set and ad numbers of every connected account into the workbook."),
    ("status", "status", "status",
     "Check every active client: last sync per account, logins needed, last reports, next runs."),
    ("dashboard", "dashboard", "dashboard",
     "How a client is doing (or every client of the agency), against the previous period."),
    ("metrics", "metrics", "metrics",
     "Spend, results and rates broken down by day, week, month, platform, account, client, "
     "campaign, ad set or ad; or by age, gender, country, placement or device."),
    ("report", "report", "app", "Client reports: built from the workbook, e-mailed once."),
    ("insight", "insight", "app",
     "Suggestions for each client: what changed, the numbers behind it, what to do."),
    ("sql", "sql", "sql",
     "Run one read-only SQL query on the workbook; nothing it runs can change the workbook."),
    ("audit", "setup", "audit", "List every change made to the workbook: when, who, what."),
    ("demo", "setup", "demo",
     "Run DataDrip end to end on demo data, in a folder of its own (reset on each run)."),
    ("agency", "agency", "app", "Agencies: yours, with time zone, currency and branding."),
    ("client", "client", "app", "Clients: who you run ads for and who gets their reports."),
    ("user", "user", "app", "Team members: the owners and members of an agency."),
    ("connect", "connect", "connect",
     "Connect a client's ad accounts on a platform: log in once in the browser."),
    ("account", "account", "app",
     "Connected ad accounts: which client, which login, and whether it still works."),
    ("platform", "platform", "app",
     "Ad platforms: the installed plug-ins that DataDrip connects to and syncs from."),
    ("fx", "fx", "app", "Exchange rates, for totals over accounts in several currencies."),
    ("config", "config", "app", "Configuration: what is in effect and where it came from."),
    ("secret", "secret", "app",
     "App secrets: stored in the OS keyring, or an encrypted file where there is none."),
    ("daemon", "daemon", "daemon",
     "Run the scheduled logins check, syncs and reports of every agency until stopped."),
    ("schedule", "schedule", "app",
     "The daemon's timetable: next runs, crontab lines, a systemd unit."),
    ("db", "db", "app", "The workbook's schema."),
    ("sandbox", "sandbox", "app", "The sandbox: the ad platforms' APIs emulated on 127.0.0.1."),
)
_WHERE = {name: (module, attribute) for name, module, attribute, _ in COMMANDS}


class _ErrorBoundary(TyperGroup):
    """Runs the command tree; turns every failure into one `error: …` line and an exit code.

    Its commands are loaded when asked for (see COMMANDS), not when DataDrip starts."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [name for name, *_ in COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in _WHERE:
            self.commands[cmd_name] = _load(cmd_name, *_WHERE[cmd_name])
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list of the root help, without loading a command."""
        width = max(len(name) for name, *_ in COMMANDS)
        limit = formatter.width - 6 - width
        with formatter.section("Commands"):
            formatter.write_dl([(name, _shortened(summary, limit)) for name, _, _, summary in COMMANDS])

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        try:
            result = super().main(argv, prog_name or "datadrip", complete_var,
                                  standalone_mode=False,
                                  windows_expand_args=windows_expand_args, **extra)
        except DataDripError as exc:
            _report(exc.message, exc.hint, exc, argv)
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.stderr.write("error: aborted\n")
            sys.exit(ExitCode.FAILED)
        except Exception as exc:  # the one boundary: Typer's usage errors and our own bugs
            format_message = getattr(exc, "format_message", None)
            if type(exc).__name__ == "NoArgsIsHelpError" and callable(format_message):
                # `datadrip` or `datadrip client` alone: the help itself, not an error line.
                sys.stderr.write(str(format_message()) + "\n")
                sys.exit(ExitCode.BAD_INPUT)
            if callable(format_message) and hasattr(exc, "exit_code"):
                command = getattr(getattr(exc, "ctx", None), "command_path", "datadrip")
                _report(str(format_message()), f"See '{command} --help'.", exc, argv, usage=True)
                sys.exit(ExitCode.BAD_INPUT)
            _report(f"unexpected {type(exc).__name__}: {exc}",
                    "Run again with --debug for the traceback, and report it.", exc, argv)
            sys.exit(ExitCode.FAILED)
        sys.exit(result if isinstance(result, int) else ExitCode.OK)


def _load(name: str, module: str, attribute: str) -> Any:
    """The Click command of `datadrip NAME`, built as Typer builds a mounted command or sub-app."""
    from importlib import import_module

    from typer.models import CommandInfo, TyperInfo

    target = getattr(import_module(f"datadrip.commands.{module}"), attribute)
    if isinstance(target, typer.Typer):
        return typer.main.get_group_from_info(
            TyperInfo(target, name=name), pretty_exceptions_short=app.pretty_exceptions_short,
            suggest_commands=app.suggest_commands, rich_markup_mode=app.rich_markup_mode)
    return typer.main.get_command_from_info(
        CommandInfo(name=name, callback=target), pretty_exceptions_short=app.pretty_exceptions_short,
        rich_markup_mode=app.rich_markup_mode)


def _shortened(text: str, limit: int) -> str:
    """`text` cut at a word to fit `limit` characters, with "..." where it was cut (as Click does)."""
    if len(text) <= limit:
        return text
    words, kept = text.split(), ""
    for word in words:
        if len(kept) + len(word) + 1 + 3 > limit:
            break
        kept = f"{kept} {word}" if kept else word
    return kept + "..."


def command_tree() -> Any:
    """The whole command tree, every command loaded (for the reference docs and the tests)."""
    root = typer.main.get_command(app)
    for name in root.list_commands(None):  # type: ignore[attr-defined]
        root.get_command(None, name)  # type: ignore[attr-defined]
    return root


def _report(message: str, hint: str | None, exc: BaseException, argv: list[str],
            *, usage: bool = False) -> None:
    debug_env = os.environ.get("DATADRIP_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}
    if not usage and ("--debug" in argv or debug_env):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    sys.stderr.write(f"error: {printable(message)}\n")
    if hint:
        sys.stderr.write(f"Hint: {printable(hint)}\n")


app = typer.Typer(
    cls=_ErrorBoundary,
    name="datadrip",
    help="""DataDrip: your clients' Meta and Google Ads numbers in a local workbook,
    checked, explained and e-mailed every morning.

    \b
    Start here:
      datadrip init                                    config file and workbook
      datadrip agency add "Spice Route Media"          your agency
      datadrip client add "Masala Mornings" --recipients owner@masala.example
      datadrip client list                             --json for scripts
      datadrip demo                                    everything, on demo data
    """,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: rich would double the start-up time of --help
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"datadrip {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(ctx: typer.Context,
         config_file: Annotated[Path | None, typer.Option(
             "--config", help="Config file to use instead of the usual places.",
             dir_okay=False)] = None,
         debug: Annotated[bool, typer.Option(
             "--debug", help="Show tracebacks on errors (also DATADRIP_DEBUG=1).")] = False,
         version: Annotated[bool, typer.Option(
             "--version", callback=_print_version, is_eager=True,
             help="Print the version and exit.")] = False) -> None:
    ctx.obj = Invocation(config_path=config_file, debug=debug)


def main() -> None:
    app()
