"""What `datadrip secret set|delete` do: change the secret store and write the audit log.

The store (datadrip/secrets/) knows nothing of the workbook; the audit row ("secret.set",
"secret.delete": the name and the backend, never the value) is written here, in the command's
unit of work, before the store changes, so that a failed change leaves no row behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from datadrip.core.config import Loaded
from datadrip.core.errors import NotFoundError, UsageError
from datadrip.secrets.store import check_name, env_source, open_store
from datadrip.workbook import audit
from datadrip.workbook.session import Workbook


@dataclass(frozen=True)
class SecretChange:
    name: str
    location: str
    env_override: str | None  # an environment variable that wins over the stored value


def store_secret(loaded: Loaded, wb: Workbook, name: str, value: str, *,
                 on_notice: Callable[[str], None] | None = None) -> SecretChange:
    """Store an app secret and write "secret.set" to the audit log (never the value)."""
    check_name(loaded, name)
    if not value.strip():
        raise UsageError(f"the value for {name} is empty")
    store, notice = open_store(loaded)
    if notice and on_notice:
        on_notice(notice)
    audit.record(wb.session, wb.actor, "secret.set", "secret", name, name=name,
                 backend=store.backend)
    store.set(name, value)
    return SecretChange(name, store.location, env_source(loaded, name))


def delete_secret(loaded: Loaded, wb: Workbook, name: str) -> SecretChange:
    """Delete an app secret from the store and write "secret.delete" to the audit log."""
    check_name(loaded, name)
    store, _ = open_store(loaded, announce=False)
    audit.record(wb.session, wb.actor, "secret.delete", "secret", name, name=name,
                 backend=store.backend)
    if not store.delete(name):
        var = env_source(loaded, name)
        raise NotFoundError(f"{name} is not in {store.location}",
                            hint=f"It is set by the environment variable {var}: unset it there."
                            if var else "See what is stored with 'datadrip secret list'.")
    return SecretChange(name, store.location, env_source(loaded, name))
