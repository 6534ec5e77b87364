"""The exceptions that carry DataDrip's exit codes; `cli.main()` alone turns them into exits."""

from __future__ import annotations


class ExitCode:
    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    PARTIAL = 3
    LOGIN_NEEDED = 4


class DataDripError(Exception):
    """Something the user can act on. The message is one line; the hint says what to do next."""

    exit_code: int = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(DataDripError):
    """Bad arguments or input: the user must change the call."""

    exit_code = ExitCode.BAD_INPUT


class ConfigError(UsageError):
    """The configuration file or a DATADRIP_* variable is wrong."""


class NotFoundError(UsageError):
    """A named agency, client or user does not exist."""


class AmbiguousError(UsageError):
    """A name matches more than one thing."""


class ConflictError(UsageError):
    """The change would break a uniqueness rule (a duplicate name, say)."""


class ConfirmationRequiredError(UsageError):
    """A destructive change needs `--yes` where nobody can be asked."""


class WorkbookError(DataDripError):
    """The workbook cannot be opened or migrated."""

    exit_code = ExitCode.BAD_INPUT


class WorkbookDamagedError(WorkbookError):
    """The workbook file is damaged (an empty file, corrupted pages): nothing is written to it."""


class WorkbookBusyError(DataDripError):
    """Another process held the workbook longer than [workbook] busy_timeout_seconds."""


class AuthRequiredError(DataDripError):
    """A login is needed; the hint names the `datadrip connect` command."""

    exit_code = ExitCode.LOGIN_NEEDED


class ReauthRequiredError(AuthRequiredError):
    """A stored login stopped working (revoked, expired, password changed): log in again.

    The message never holds a token; the caller sets the hint to the exact `datadrip connect`
    command for the client."""


class LoginError(DataDripError):
    """A browser login did not finish: refused, forged (wrong state), timed out or failed at the
    token exchange. Nothing was stored; running the login again may work."""


class LoginCancelledError(LoginError):
    """The person pressed "Cancel" (or "Not now") on the consent page."""


class LoginTimeoutError(LoginError):
    """Nobody finished the consent page before `[auth] login_timeout_seconds`."""


class PartialError(DataDripError):
    """Some clients or accounts failed; the rest was saved."""

    exit_code = ExitCode.PARTIAL


class SecretStoreError(DataDripError):
    """The secret store cannot be used: no usable keyring, a wrong or missing key, a damaged file."""

    exit_code = ExitCode.BAD_INPUT


def run_failure(message: str, *, failed: int, total: int, needs_login: bool,
                hint: str | None = None) -> DataDripError:
    """How a run over several clients or accounts ends when some failed: 4 when one needs a login
    (it wins over 3: the fix is a login, whatever else went through), 3 when the others went
    through (sent, saved, or skipped with a reason), 1 when every one failed."""
    if needs_login:
        return AuthRequiredError(message, hint=hint)
    if failed < total:
        return PartialError(message, hint=hint)
    return DataDripError(message, hint=hint)
