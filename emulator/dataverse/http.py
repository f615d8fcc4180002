"""Transport-neutral request/response values for the Web API (the aiohttp front and each
`$batch` part build the same `ApiRequest`)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

API_PREFIX = "/api/data/v9.2"
JSON_TYPE = "application/json; odata.metadata=minimal"


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str  # below /api/data/v9.2, percent-decoded, e.g. "/contacts(00000000-...)"
    query: Mapping[str, str]
    headers: Mapping[str, str]  # keys lower-cased
    body: bytes
    base_url: str  # "https://127.0.0.1:1234/api/data/v9.2", for links

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        from emulator.dataverse.errors import bad_request

        if not self.body:
            raise bad_request("The request body is empty.")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(f"The request body is not valid JSON: {exc}.") from exc


@dataclass
class ApiResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> ApiResponse:
    all_headers = {"Content-Type": JSON_TYPE, "OData-Version": "4.0"}
    all_headers.update(headers or {})
    return ApiResponse(status, json.dumps(payload).encode(), all_headers)


def no_content(headers: dict[str, str] | None = None) -> ApiResponse:
    all_headers = {"OData-Version": "4.0"}
    all_headers.update(headers or {})
    return ApiResponse(204, b"", all_headers)


def link(base_url: str, path: str, query: Mapping[str, str]) -> str:
    encoded = urllib.parse.urlencode(dict(query), safe="$,'()!:", quote_via=urllib.parse.quote)
    return f"{base_url}/{path}" + (f"?{encoded}" if encoded else "")


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """An absolute or relative Web API URL -> (path below the API prefix, query)."""
    parsed = urllib.parse.urlsplit(url)
    path = urllib.parse.unquote(parsed.path)
    index = path.lower().find(API_PREFIX)
    if index >= 0:
        path = path[index + len(API_PREFIX) :]
    if not path.startswith("/"):
        path = "/" + path
    return path, dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
