"""What can go wrong talking to Dataverse, as a tree the connector can act on.

    DataverseError
    ├── TransientError          retried by the one policy (graph_sync.retry)
    │   ├── Throttled           429: service protection; `retry_after` seconds
    │   ├── ServerUnavailable   5xx
    │   └── TransportFailed     connection, TLS, timeout, an unreadable body
    └── RequestRefused          not retried: the request itself is wrong or not allowed
        ├── TokenRefused        no token (credentials) or 401
        ├── AccessDenied        403: a privilege is missing (`privilege` names it)
        ├── RecordMissing       404
        ├── DeltaExpired        the delta link is too old: re-baseline that table
        └── HostRefused         a link outside the configured environment (token kept back)

Messages carry Dataverse's code and message, never a token or a delta link's query.
"""

from __future__ import annotations

import re


class DataverseError(Exception):
    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class TransientError(DataverseError):
    pass


class Throttled(TransientError):
    def __init__(self, message: str, *, retry_after: float | None, code: str | None = None):
        super().__init__(message, status=429, code=code)
        self.retry_after = retry_after


class ServerUnavailable(TransientError):
    pass


class TransportFailed(TransientError):
    pass


class RequestRefused(DataverseError):
    pass


class TokenRefused(RequestRefused):
    pass


PRIVILEGE = re.compile(r"\b(prv[A-Za-z]+)\b")


class AccessDenied(RequestRefused):
    @property
    def privilege(self) -> str | None:
        found = PRIVILEGE.search(str(self))
        return found.group(1) if found else None


class RecordMissing(RequestRefused):
    pass


class DeltaExpired(RequestRefused):
    pass


class HostRefused(RequestRefused):
    pass


EXPIRED_DELTA_CODE = "0x80044352"
