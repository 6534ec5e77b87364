"""`datadrip sandbox …`: the local emulation of the ad platforms' APIs (each installed emulation:
sandbox/emulation.py), the e-mail providers and OpenAI."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from datadrip.commands import output
from datadrip.platforms.registry import label
from datadrip.sandbox.app import SandboxConfig
from datadrip.sandbox.serve import config_snippet, describe_at, serve_until

app = typer.Typer(help="""The sandbox: the ad platforms' APIs emulated on 127.0.0.1.

    \b
    Example:
      datadrip sandbox serve --port 8900
    """, no_args_is_help=True)


@app.command("serve")
def sandbox_serve(
        port: Annotated[int, typer.Option("--port", min=0, max=65535,
                                          help="Port on 127.0.0.1; 0 picks a free one.")] = 0,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic data.")] = 7,
        today: Annotated[str | None, typer.Option(
            "--today", help="Pin the sandbox's today (YYYY-MM-DD); default: the real date.")] = None,
        large: Annotated[bool, typer.Option(
            "--large", help="Add a large account (40 campaigns, 2 years), for benchmarks.")] = False,
        stories: Annotated[bool, typer.Option(
            "--stories/--no-stories",
            help="Serve the planted stories' accounts too (a shop with purchases, a lead-generation "
                 "client, a budget in yen, an archived and a removed campaign that spent); "
                 "--no-stories: the default accounts only.")] = True,
        print_config: Annotated[bool, typer.Option(
            "--print-config", help="Print the datadrip.toml snippet for a sandbox on --port, and "
                                   "exit without serving (serve it with the same --port).")] = False,
        as_json: Annotated[bool, typer.Option(
            "--json", help="First line of stdout: URLs and credentials as one JSON object.")] = False,
) -> None:
    """Serve the sandbox until Ctrl-C or SIGTERM; first print its URLs and credentials.

    \b
    Example:
      datadrip sandbox serve --port 8900 --print-config > sandbox.toml
      datadrip sandbox serve --port 8900
      datadrip sandbox serve --json | head -n 1 | jq .meta.graph_url
    """
    import signal
    import sys
    import threading

    if print_config and as_json:
        raise typer.BadParameter("--print-config and --json cannot go together")
    if print_config and port == 0:
        raise typer.BadParameter("--print-config needs the port the sandbox will serve on, "
                                 "e.g. --port 8900", param_hint="--port")
    config = SandboxConfig(seed=seed, today=_day(today), large_account=large, story_accounts=stories)
    if print_config:
        sys.stdout.write(config_snippet(describe_at(config, port)))
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    def ready(description: dict[str, Any]) -> None:
        if as_json:
            sys.stdout.write(output.to_json(description, indent=None) + "\n")
        else:
            sys.stdout.write(_human(description))
        sys.stdout.flush()
        output.message(f"Sandbox serving on {description['base_url']}; Ctrl-C stops it.")

    serve_until(stop, config, port=port, on_ready=ready)
    output.message("Sandbox stopped.")


def _day(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)", param_hint="--today") \
            from None


def _human(description: dict[str, Any]) -> str:
    """Each emulated platform's settings, test-app secrets, token and accounts, one per line."""
    lines = [f"DataDrip sandbox at {description['base_url']}"]
    width = max((len(label(name)) for name in description["platforms"]), default=0)
    for name in description["platforms"]:
        offered = description[name]["connect"]
        shown = label(name).ljust(width)
        lines += [f"  {shown} {key:<12} {value}" for key, value in offered["settings"].items()]
        lines += [f"  {shown} secret {key} = {value}" for key, value in offered["secrets"].items()]
        lines += [f"  {shown} token        {offered['token']}  (datadrip connect {name} … --token-stdin)",
                  f"  {shown} accounts     {', '.join(offered['account_ids'])}"]
    return "\n".join([*lines, ""])
