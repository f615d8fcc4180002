"""Graph and Entra ID error shapes, as the real services send them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any


class ServiceError(Exception):
    """Raised by handlers: the HTTP status, the service's error code and message, and headers
    to send (Retry-After...). Each service (Graph, the loopback Dataverse) renders the body."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class GraphError(ServiceError):
    """Rendered as `{"error": {"code", "message", "innerError"}}`."""


def utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def graph_error_body(
    code: str, message: str, request_id: str, client_request_id: str
) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": utc_now_iso(),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }


class TokenError(Exception):
    """An Entra ID token-endpoint failure carrying its AADSTS code."""

    def __init__(self, status: int, error: str, aadsts: int, description: str) -> None:
        super().__init__(f"AADSTS{aadsts}: {description}")
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.description = description

    def body(self) -> dict[str, Any]:
        trace_id = str(uuid.uuid4())
        correlation_id = str(uuid.uuid4())
        now = dt.datetime.now(dt.UTC)
        return {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.aadsts}: {self.description} Trace ID: {trace_id} "
                f"Correlation ID: {correlation_id} Timestamp: {now:%Y-%m-%d %H:%M:%SZ}"
            ),
            "error_codes": [self.aadsts],
            "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.aadsts}",
        }


def unknown_tenant(tenant: str) -> TokenError:
    return TokenError(
        400,
        "invalid_request",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
        "are signing into the correct cloud.",
    )


def unknown_client(client_id: str, tenant_id: str) -> TokenError:
    return TokenError(
        400,
        "unauthorized_client",
        700016,
        f"Application with identifier '{client_id}' was not found in the directory '{tenant_id}'.",
    )


def bad_secret(client_id: str) -> TokenError:
    return TokenError(
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
    )


def bad_assertion(reason: str) -> TokenError:
    return TokenError(401, "invalid_client", 700027, reason)
