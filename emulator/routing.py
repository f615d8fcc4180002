"""Graph v1.0 URL routing: path pattern -> (path kind, handler)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from emulator.errors import GraphError
from emulator.http import GraphRequest, GraphResponse
from emulator.state import TenantState
from emulator.tokens import AccessClaims


@dataclass
class Context:
    request: GraphRequest
    params: dict[str, str]
    claims: AccessClaims
    state: TenantState
    # `$batch` re-enters the pipeline through this, so every item is throttled on its own.
    dispatch: Callable[[GraphRequest], Awaitable[GraphResponse]] | None = None
    malformed: str | None = None  # fault: corrupt one item of this page ("from" or "date")


Handler = Callable[[Context], Awaitable[GraphResponse]]

_DELTA = r"(?:microsoft\.graph\.)?delta(?:\(\))?"
_USER = r"/users/(?P<user>[^/]+)"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    kind: str  # path kind, scopes faults: organization/users/mailFolders/messages/calendar/batch
    handler: Handler


class Router:
    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, pattern: str, kind: str, handler: Handler) -> None:
        compiled = re.compile(
            "^" + pattern.replace("{DELTA}", _DELTA).replace("{USER}", _USER) + "/?$", re.IGNORECASE
        )
        self._routes.append(Route(method, compiled, kind, handler))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed = False
        for route in self._routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.method == method:
                return route, found.groupdict()
            allowed = True
        if allowed:
            raise GraphError(
                405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed."
            )
        segment = next((s for s in reversed(path.split("/")) if s), path)
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def mailbox_segment(path: str) -> str | None:
    """The user segment of a mailbox-scoped path, for per-mailbox limits and fault scoping."""
    parts = path.split("/")
    if len(parts) > 3 and parts[1].lower() == "users":
        return parts[2]
    return None
