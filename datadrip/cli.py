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
from datadrip.commands import (
    account,
    agency,
    client,
    config,
    connect,
    dashboard,
    db,
    fx,
    metrics,
    sandbox,
    secret,
    setup,
    sql,
    sync,
    user,
)
from datadrip.commands._context import Invocation
from datadrip.errors import DataDripError, ExitCode


class _ErrorBoundary(TyperGroup):
    """Runs the command tree; turns every failure into one `error: …` line and an exit code."""

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


def _report(message: str, hint: str | None, exc: BaseException, argv: list[str],
            *, usage: bool = False) -> None:
    debug_env = os.environ.get("DATADRIP_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}
    if not usage and ("--debug" in argv or debug_env):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    sys.stderr.write(f"error: {message}\n")
    if hint:
        sys.stderr.write(f"Hint: {hint}\n")


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


app.command("init")(setup.init)
app.add_typer(agency.app, name="agency")
app.add_typer(client.app, name="client")
app.add_typer(user.app, name="user")
app.add_typer(connect.app, name="connect")
app.command("disconnect")(connect.disconnect)
app.add_typer(account.app, name="account")
app.command("sync")(sync.sync)
app.command("dashboard")(dashboard.dashboard)
app.command("metrics")(metrics.metrics)
app.add_typer(fx.app, name="fx")
app.command("sql")(sql.sql)
app.command("audit")(setup.audit)
app.add_typer(config.app, name="config")
app.add_typer(secret.app, name="secret")
app.add_typer(db.app, name="db")
app.command("demo")(setup.demo)
app.add_typer(sandbox.app, name="sandbox")


def main() -> None:
    app()
