"""Transport-neutral request/response values, shared by the aiohttp front and `$batch`."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

_json_encoder = msgspec.json.Encoder()
CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
    "charset=utf-8"
)


@dataclass(frozen=True)
class GraphRequest:
    method: str
    path: str  # below /v1.0, percent-decoded, e.g. "/users/a@b.com/mailFolders"
    query: Mapping[str, str]
    headers: Mapping[str, str]  # keys lower-cased
    body: bytes
    base_url: str  # "http://127.0.0.1:1234/v1.0", for building links

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class GraphResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return msgspec.json.decode(self.body) if self.body else None


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> GraphResponse:
    all_headers = {"Content-Type": CONTENT_TYPE}
    all_headers.update(headers or {})
    return GraphResponse(status, _json_encoder.encode(payload), all_headers)


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """Split a relative or absolute Graph URL into (path below /v1.0, query)."""
    parsed = urllib.parse.urlsplit(url)
    path = urllib.parse.unquote(parsed.path)
    if path.lower().startswith("/v1.0"):
        path = path[len("/v1.0") :]
    query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
    return path or "/", query


def with_query(base: str, path: str, query: Mapping[str, str]) -> str:
    encoded = urllib.parse.urlencode(dict(query), safe="$,'@:()", quote_via=urllib.parse.quote)
    return f"{base}{urllib.parse.quote(path, safe='/@()')}" + (f"?{encoded}" if encoded else "")
