"""A small WSGI toolkit for the sandbox: requests, responses and a regex router (stdlib only)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

Handler = Callable[["Request", re.Match[str]], "Response"]
STATUS_TEXT = {200: "OK", 302: "Found", 400: "Bad Request", 401: "Unauthorized",
               403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
               429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    base_url: str  # scheme://host:port of this server, as the client addressed it

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
                   if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        query = {key: values[0] for key, values in
                 parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        path = environ.get("PATH_INFO", "") or "/"
        return cls(environ["REQUEST_METHOD"].upper(), path, query, headers, body,
                   f"{environ.get('wsgi.url_scheme', 'http')}://{host}")

    @property
    def raw_query(self) -> str:
        from urllib.parse import urlencode

        return urlencode(self.query)

    def form(self) -> dict[str, str]:
        """The url-encoded body (token endpoints), merged over the query string."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {**self.query, **{key: values[0] for key, values in parsed.items()}}

    def json(self) -> Any:
        """The JSON body; ValueError when it is not JSON."""
        return json.loads(self.body or b"null")

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    # Faults: send only this many bytes of the body (the client sees a broken connection).
    truncate_to: int | None = None

    @classmethod
    def json(cls, data: Any, status: int = 200,
             headers: Iterable[tuple[str, str]] = ()) -> Response:
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        return cls(status, body, [("Content-Type", "application/json; charset=UTF-8"), *headers])

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode(), [("Content-Type", "text/html; charset=utf-8")])

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls(302, b"", [("Location", location)])

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method.upper(), re.compile(pattern), handler))

    def dispatch(self, request: Request) -> Response | None:
        """The matching handler's response; None when no route has this path."""
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if method == request.method:
                return handler(request, match)
            allowed = True
        return Response.json({"error": "method not allowed"}, 405) if allowed else None
