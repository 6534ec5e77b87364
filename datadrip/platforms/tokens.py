"""Stored logins: one secret per login, the same for every platform.

A login is kept in the secret store under its `token_ref` ("login.meta.3f9c…") as a small JSON
document: the token (Meta: the access token; Google: the refresh token), where it came from
(a browser login, or pasted on stdin), whom it acts for, and when it expires. The workbook keeps
only the ref. What a token is good for (renewal, checks, revocation) is the platform plug-in's
business (`PlatformPlugin.token_source`, `check_login`, `revoke`).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datadrip.core.errors import ReauthRequiredError, SecretStoreError

if TYPE_CHECKING:
    from datadrip.secrets.store import SecretStore

PREFIX = "login."


@dataclass(frozen=True)
class StoredLogin:
    """What one login leaves in the secret store."""

    platform: str  # the plug-in's name: "meta", "google" …
    token: str = field(repr=False)  # Meta access token / Google refresh token
    origin: str  # "browser": DataDrip's own login; "stdin": a token the agency already had
    expires_at: dt.datetime | None = None  # UTC; None: no scheduled end
    user_id: str | None = None  # Meta: the user or system user the token acts for

    def dumps(self) -> str:
        return json.dumps({"platform": self.platform, "token": self.token, "origin": self.origin,
                           "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                           "user_id": self.user_id})

    @classmethod
    def loads(cls, text: str, ref: str) -> StoredLogin:
        try:
            data: Any = json.loads(text)
            expires = data.get("expires_at")
            return cls(platform=str(data["platform"]), token=str(data["token"]),
                       origin=str(data.get("origin", "browser")),
                       expires_at=dt.datetime.fromisoformat(expires) if expires else None,
                       user_id=data.get("user_id"))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SecretStoreError(f"the stored login {ref} is damaged",
                                   hint="Log in again with 'datadrip connect'.") from None


def new_token_ref(platform: str) -> str:
    return f"{PREFIX}{platform}.{uuid.uuid4().hex[:16]}"


def load_login(store: SecretStore, ref: str | None, *, reauth_hint: str) -> StoredLogin:
    """The login behind an account's token_ref; gone from the store → a new login is needed."""
    text = store.get(ref) if ref else None
    if text is None:
        raise ReauthRequiredError(f"the login is no longer in {store.location}",
                                  hint=reauth_hint)
    return StoredLogin.loads(text, ref or "")
