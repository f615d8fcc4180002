"""The environment a Dataverse connector talks to: its URL, its Web API and token scope.

The token is asked for `{environment}/.default` and sent only to URLs under
`{environment}/api/data/v9.2/` (same scheme, host and port): a stored delta link
or a `@odata.nextLink` naming anywhere else is refused before the token leaves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

API_PATH = "/api/data/v9.2"
DEFAULT_PORTS = {"https": 443, "http": 80}
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# A publisher's customization prefix: 2-8 letters or digits, starting with a letter, and
# never "mscrm" (reserved by Dataverse).
PREFIX = re.compile(r"^[a-z][a-z0-9]{1,7}$")


def environment_url(value: str) -> str:
    """The environment URL as configured, checked: https (http only on loopback), no path."""
    text = value.strip().rstrip("/")
    expected = "expected the environment URL, e.g. https://contoso.crm.dynamics.com"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"{text!r} is not a URL; {expected}") from None
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
        raise ValueError(f"{text!r} must use https:// (http:// only on loopback); {expected}")
    if not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"{text!r} is not an environment URL; {expected}")
    if parts.path not in ("", "/"):
        raise ValueError(f"{text!r} has a path; {expected} (without /api/data/...)")
    return f"{parts.scheme}://{parts.netloc}"


def publisher_prefix(value: str) -> str:
    prefix = value.strip().lower()
    if not PREFIX.match(prefix) or prefix.startswith("mscrm"):
        raise ValueError(
            f"{value!r} is not a publisher prefix; expected 2-8 letters or digits starting "
            "with a letter (not 'mscrm'), the prefix of your solution's publisher"
        )
    return prefix


@dataclass(frozen=True, slots=True)
class Environment:
    url: str  # https://contoso.crm.dynamics.com

    @property
    def api_url(self) -> str:
        return self.url + API_PATH

    @property
    def scope(self) -> str:
        return self.url + "/.default"

    def owns(self, link: str) -> bool:
        """True when `link` is under the environment's Web API (never a look-alike)."""
        try:
            parts, mine = urlsplit(link), urlsplit(self.url)
            if (parts.scheme, parts.hostname, _port(parts.port, parts.scheme)) != (
                mine.scheme,
                mine.hostname,
                _port(mine.port, mine.scheme),
            ):
                return False
        except ValueError:
            return False
        if parts.username is not None or parts.password is not None or "\\" in link:
            return False
        path = unquote(parts.path)
        if any(segment in (".", "..") for segment in path.split("/")):
            return False
        return path == API_PATH or path.startswith(API_PATH + "/")


def _port(port: int | None, scheme: str) -> int | None:
    return port or DEFAULT_PORTS.get(scheme)
