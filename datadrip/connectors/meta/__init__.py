"""The Meta Marketing API connector."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from datadrip.connectors.http import RetryPolicy, Sleep
from datadrip.connectors.meta.accounts import list_accounts
from datadrip.connectors.meta.graph import GraphClient, MetaApiError

if TYPE_CHECKING:
    import httpx

    from datadrip.connectors.base import AccountRef

__all__ = ["MetaAds", "MetaApiError"]


class MetaAds:
    """Meta ads through the Graph API with one access token (a user or system-user token).

    `page_limit` is the `limit` asked of list edges; `retry` how hard to try (RetryPolicy)."""

    name = "meta"

    def __init__(self, *, http: httpx.Client, graph_url: str, api_version: str, access_token: str,
                 sleep: Sleep = time.sleep, page_limit: int = 100,
                 retry: RetryPolicy | None = None) -> None:
        self._graph = GraphClient(http=http, graph_url=graph_url, api_version=api_version,
                                  access_token=access_token, retry=retry, sleep=sleep)
        self._page_limit = page_limit

    def __repr__(self) -> str:
        return f"MetaAds({self._graph!r})"

    def list_accounts(self) -> list[AccountRef]:
        """The ad accounts this login can read; DISABLED and CLOSED ones come back "disabled"."""
        return list_accounts(self._graph, page_limit=self._page_limit)
