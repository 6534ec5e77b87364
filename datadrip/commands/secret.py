"""`datadrip secret …`: app secrets in the OS keyring or the encrypted file, never on the command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from datadrip.commands import output
from datadrip.commands._context import settings, workbook
from datadrip.commands._options import JsonOpt
from datadrip.core.errors import UsageError
from datadrip.secrets.store import check_name, list_secrets

app = typer.Typer(help="""App secrets: stored in the OS keyring, or an encrypted file where there is none.

    Values are read from a hidden prompt or from stdin, never from the command line.
    An environment variable (DATADRIP_META_APP_SECRET, …) wins over a stored value.

    \b
    Examples:
      datadrip secret set meta.app_secret
      printf %s "$SMTP_PASSWORD" | datadrip secret set email.smtp_password
      datadrip secret list --json
    """,
                  no_args_is_help=True)

# Spelled out (not read from datadrip.core.config) so that building the CLI imports no pydantic.
NameArg = Annotated[str, typer.Argument(
    help="The secret: meta.app_secret, google.client_secret, google.developer_token, "
         "email.smtp_password, email.resend_api_key, email.sendgrid_api_key or ai.api_key.",
    metavar="NAME", show_default=False)]

COLUMNS = [("name", "Secret"), ("set", "Set"), ("source", "Source"), ("env_vars", "Environment")]


# Extra arguments are caught here rather than by Typer, whose error would echo them: a value
# typed on the command line must not also end up in a log.
@app.command("set", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def secret_set(ctx: typer.Context, name: NameArg) -> None:
    """Store an app secret, asked for with a hidden prompt or read from stdin.

    \b
    Example:
      datadrip secret set ai.api_key < ~/openai-key.txt
    """
    from datadrip.workbook.app_secrets import store_secret

    if ctx.args:
        raise UsageError("got an unexpected extra argument: secret values are never taken from "
                         "the command line (it would stay in your shell history)",
                         hint='Run it at a terminal to be asked, or pipe the value in: '
                              'printf %s "$VALUE" | datadrip secret set NAME')
    loaded = settings(ctx)
    value = _read_value(check_name(loaded, name))
    with workbook(ctx, write=True) as wb:
        stored = store_secret(loaded, wb, name, value, on_notice=output.message)
    output.message(f"Stored {name} in {stored.location}.")
    if stored.env_override:
        output.message(f"Note: {stored.env_override} is set and wins over the stored value.")


@app.command("delete")
def secret_delete(ctx: typer.Context, name: NameArg) -> None:
    """Delete an app secret from the store (exit 2 when it is not there).

    \b
    Example:
      datadrip secret delete google.developer_token
    """
    from datadrip.workbook.app_secrets import delete_secret

    loaded = settings(ctx)
    with workbook(ctx, write=True) as wb:
        deleted = delete_secret(loaded, wb, check_name(loaded, name))
    output.message(f"Deleted {name} from {deleted.location}.")
    if deleted.env_override:
        output.message(f"Note: {deleted.env_override} still sets it.")


@app.command("list")
def secret_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the app secrets: which are set, and by the environment or the store (never values).

    \b
    Example:
      datadrip secret list --json | jq -r '.[] | select(.set | not) | .name'
    """
    location, rows = list_secrets(settings(ctx))
    if as_json:
        output.print_json(rows)
        return
    output.message(f"Secret store: {location}")
    output.print_table(rows, COLUMNS)


def _read_value(name: str) -> str:
    """The value from a hidden, confirmed prompt on a terminal, else all of stdin."""
    if sys.stdin.isatty():
        return str(typer.prompt(f"Value for {name}", hide_input=True, confirmation_prompt=True,
                                err=True))
    value = sys.stdin.read()
    value = value[:-2] if value.endswith("\r\n") else value.removesuffix("\n")
    if not value.strip():
        raise UsageError(f"no value for {name} on stdin",
                         hint=f'Pipe it in (printf %s "$VALUE" | datadrip secret set {name}), '
                              f"or run at a terminal to be asked.")
    return value
