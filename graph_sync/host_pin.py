"""The Graph host pin: the only place an access token may be sent.

Graph hands out absolute links (`@odata.nextLink`, `@odata.deltaLink`) and
Rapport stores them as cursors. When `RAPPORT_GRAPH_BASE_URL` changes (a
national cloud, a new proxy, an emulator restarted on another port), every
stored link still names the old place. Following one would send the token
there, and an unreachable old host turns each folder into a retry storm.

So a link is followed only when it is under the configured base URL: same
scheme, host and port (the scheme's default port when none is written) and
under the same base path (`/v1.0`). The azure-identity provider's own
`allowed_hosts` compares host names only, which a second port on the same
host passes; this pin is checked before every request leaves the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True, slots=True)
class GraphHost:
    scheme: str
    host: str
    port: int
    base_path: str  # without a trailing slash: "/v1.0", or "" for a bare host

    @classmethod
    def of(cls, base_url: str) -> GraphHost:
        parts = urlsplit(base_url.strip())
        scheme = parts.scheme.lower()
        return cls(scheme, parts.hostname or "", _port(parts, scheme) or 0, parts.path.rstrip("/"))

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{_netloc(self.host, self.port)}"

    def owns(self, link: str) -> bool:
        """True when `link` is a URL under the configured base URL (never a look-alike)."""
        try:
            parts = urlsplit(link)
        except ValueError:
            return False
        scheme = parts.scheme.lower()
        if parts.username is not None or parts.password is not None or "\\" in link:
            return False  # userinfo or backslashes: ways to make one host read as another
        if (scheme, parts.hostname or "", _port(parts, scheme)) != (
            self.scheme,
            self.host,
            self.port,
        ):
            return False
        return _under(unquote(parts.path), self.base_path)


def origin_of(link: str) -> str:
    """The scheme, host and port of a link, for a log line: never its path or query
    (a delta link's query is sync state that should not travel into logs)."""
    try:
        parts = urlsplit(link)
        port = _port(parts, parts.scheme.lower())
    except ValueError:
        return "an unreadable URL"
    return f"{parts.scheme.lower()}://{_netloc(parts.hostname or '', port)}"


def _port(parts: SplitResult, scheme: str) -> int | None:
    try:
        return parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is not a number, or out of range
        return None


def _netloc(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def _under(path: str, base_path: str) -> bool:
    if any(segment in (".", "..") for segment in path.split("/")):
        return False  # /v1.0/../beta climbs out of the base path
    return path == base_path or path.startswith(base_path + "/")
