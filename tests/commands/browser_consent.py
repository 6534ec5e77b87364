"""A stand-in for the person at the browser, run by `webbrowser` through $BROWSER.

    BROWSER="python browser_consent.py --result OUT.json --button Allow %s &"

Opens the consent page in Debian's headless Chromium, presses the button, waits for the page
DataDrip's loopback listener answers with, and writes what happened to OUT.json:
{"opened": URL, "final_url": …, "text": …, "error": …}. With `--button none` it only records
the address (a browser nobody looks at). It prints nothing: its stdout and stderr are the CLI's
pipes, so they go to OUT.json.log instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import traceback
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # as tests/browser_support.py
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DEADLINE_SECONDS = 60  # never outlive the test that started it


def press(url: str, button: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            page.get_by_role("button", name=button).click()
            page.wait_for_url(lambda landed: "state=" in landed, timeout=20_000)
            page.wait_for_load_state()
            return {"final_url": page.url, "text": page.inner_text("body")}
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--button", required=True, help="Allow, Cancel, or none")
    parser.add_argument("url")
    args = parser.parse_args()
    log = os.open(f"{args.result}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    signal.alarm(DEADLINE_SECONDS)
    outcome: dict[str, Any] = {"opened": args.url}
    try:
        if args.button != "none":
            outcome.update(press(args.url, args.button))
    except BaseException:  # the test reads it from the result file
        outcome["error"] = traceback.format_exc()
    partial = args.result.with_name(args.result.name + ".partial")
    partial.write_text(json.dumps(outcome))
    partial.rename(args.result)  # the test never reads half a file


if __name__ == "__main__":
    main()
