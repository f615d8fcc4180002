"""What can go wrong talking to Graph, sorted by what the sync loop does about it.

    GraphSyncError
    ├── TransientError          retry with backoff (the one retry policy, retry.py)
    │   ├── Throttled           429 / 503 / 504; carries Retry-After when the service sent it
    │   ├── TransportError      connection reset, timeout, truncated response
    │   └── UndecodablePage     a page that is not JSON at all (a truncated body)
    ├── SyncStateExpired        410 / syncStateNotFound / resyncRequired: re-baseline the folder
    ├── SyncInterrupted         shutdown asked for: the round stopped between pages
    ├── ForeignLink             a link outside RAPPORT_GRAPH_BASE_URL: never sent (host_pin.py)
    ├── AccessDenied            403: consent missing or revoked; the tenant falls back to CRM data
    └── GraphRequestFailed      any other error response: the mailbox is marked failed

Messages carry status codes, Graph error codes and request ids, never tokens,
addresses or message content.
"""

from __future__ import annotations


class GraphSyncError(Exception):
    """Base of everything the Graph client raises."""


class TransientError(GraphSyncError):
    retry_after: float | None = None


class Throttled(TransientError):
    def __init__(self, status: int, code: str, retry_after: float | None) -> None:
        wait = f", Retry-After {retry_after:g}s" if retry_after is not None else ""
        super().__init__(f"HTTP {status} {code}{wait}")
        self.status = status
        self.code = code
        self.retry_after = retry_after


class TransportError(TransientError):
    pass


class UndecodablePage(TransientError):
    pass


class SyncStateExpired(GraphSyncError):
    pass


class SyncInterrupted(GraphSyncError):
    pass


class ForeignLink(GraphSyncError):
    """A request, or a link in a response, for a host other than the configured Graph.

    Not transient: retrying cannot make the link point home. A stored cursor of
    this kind is re-baselined instead; a response carrying one fails its folder.
    """


class AccessDenied(GraphSyncError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"HTTP 403 {code}: {message}")
        self.code = code


class GraphRequestFailed(GraphSyncError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
