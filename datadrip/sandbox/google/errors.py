"""Google Ads API error bodies: google.rpc.Status with a GoogleAdsFailure detail, and the request id."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from datadrip.sandbox.web import Response

# Canonical status and top-level message per HTTP status (docs/best-practices/understand-api-errors).
CANONICAL = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 "
                             "access token, login cookie or other valid authentication credential. "
                             "See https://developers.google.com/identity/sign-in/web/devconsole-project."),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    500: ("INTERNAL", "Internal error encountered."),
    503: ("UNAVAILABLE", "The service is currently unavailable."),
}
MISSING_CREDENTIALS = ("Request is missing required authentication credential. Expected OAuth 2 "
                       "access token, login cookie or other valid authentication credential. See "
                       "https://developers.google.com/identity/sign-in/web/devconsole-project.")
PERMISSION_DENIED = ("User doesn't have permission to access customer. Note: If you're accessing a "
                     "client customer, the manager's customer id must be set in the "
                     "'login-customer-id' header.")
NOT_ENABLED = ("The customer account can't be accessed because it is not yet enabled or has been "
               "deactivated.")
QUOTA_DETAILS = {"quotaErrorDetails": {"rateScope": "ACCOUNT", "rateName": "Requests per account",
                                       "retryDelay": "30s"}}


def new_request_id() -> str:
    """22 url-safe characters, like the real request ids."""
    return secrets.token_urlsafe(16)[:22]


@dataclass
class AdsError(Exception):
    """A failed API call: HTTP status and the GoogleAdsFailure errors it carries."""

    status: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None  # the top-level message, when not the canonical one

    @classmethod
    def one(cls, status: int, category: str, code: str, message: str, *,
            location: str | None = None, details: dict[str, Any] | None = None) -> AdsError:
        error: dict[str, Any] = {"errorCode": {category: code}, "message": message}
        if location is not None:
            error["location"] = {"fieldPathElements": [{"fieldName": location}]}
        if details is not None:
            error["details"] = details
        return cls(status, [error])


def body(error: AdsError, version: str, request_id: str) -> dict[str, Any]:
    canonical, default_message = CANONICAL.get(error.status, ("UNKNOWN", "Unknown error."))
    status: dict[str, Any] = {"code": error.status, "message": error.message or default_message,
                              "status": canonical}
    if error.errors:
        status["details"] = [{
            "@type": f"type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure",
            "errors": error.errors, "requestId": request_id}]
    return {"error": status}


def respond(error: AdsError, version: str, *, stream: bool,
            request_id: str | None = None) -> Response:
    """The error as the API sends it: an array around it for searchStream, the status set."""
    request_id = request_id or new_request_id()
    payload = body(error, version, request_id)
    return Response.json([payload] if stream else payload, error.status,
                         [("request-id", request_id)])


def unauthenticated(missing: bool = False) -> AdsError:
    """401 with no GoogleAdsFailure (googleads-php-lib #671)."""
    return AdsError(401, [], MISSING_CREDENTIALS if missing else None)


def permission_denied() -> AdsError:
    return AdsError.one(403, "authorizationError", "USER_PERMISSION_DENIED", PERMISSION_DENIED)


def for_fault(kind: str) -> AdsError:
    """The API's answer for a sandbox fault kind."""
    if kind == "rate_limit":
        return AdsError.one(429, "quotaError", "RESOURCE_TEMPORARILY_EXHAUSTED",
                            "Too many requests. Retry in 30 seconds.", details=QUOTA_DETAILS)
    if kind == "unavailable":
        return AdsError.one(503, "internalError", "TRANSIENT_ERROR",
                            "The operation is not allowed at the moment. Please retry later.")
    if kind in ("expired_token", "revoked_token"):
        return unauthenticated()
    if kind == "permission":
        return permission_denied()
    # server_error, and reduce_data (a Meta notion) as Google's plain 500.
    return AdsError.one(500, "internalError", "INTERNAL_ERROR",
                        "An internal error has occurred. Please retry your request.")
