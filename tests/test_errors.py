"""How a run over several clients or accounts ends when some failed: the exit code it maps to."""

from __future__ import annotations

import pytest

from datadrip.core.errors import ExitCode, run_failure


@pytest.mark.parametrize(("failed", "total", "needs_login", "code"), [
    (1, 3, False, ExitCode.PARTIAL),
    (3, 3, False, ExitCode.FAILED),
    (1, 3, True, ExitCode.LOGIN_NEEDED),  # a login wins over "partly done"
    (3, 3, True, ExitCode.LOGIN_NEEDED),
], ids=["some-failed", "all-failed", "login-beside-a-success", "all-need-a-login"])
def test_run_failure_exit_code(failed, total, needs_login, code):
    error = run_failure("summary", failed=failed, total=total, needs_login=needs_login, hint="hint")

    assert (error.exit_code, error.message, error.hint) == (code, "summary", "hint")
