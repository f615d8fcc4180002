"""`$top` / `$skiptoken` paging of plain (non-delta) collections, and `$select` parsing."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from emulator.errors import GraphError
from emulator.http import GraphRequest, with_query


def parse_select(
    query: dict[str, str] | Any, allowed: frozenset[str], type_name: str
) -> list[str] | None:
    raw = query.get("$select")
    if raw is None or raw.strip() == "":
        return None
    fields = [f.strip() for f in raw.split(",") if f.strip()]
    for name in fields:
        if name not in allowed:
            raise GraphError(
                400,
                "BadRequest",
                f"Could not find a property named '{name}' on type '{type_name}'.",
            )
    return fields


def parse_top(request: GraphRequest, default: int, maximum: int) -> int:
    raw = request.query.get("$top")
    if raw is None:
        return default
    try:
        top = int(raw)
    except ValueError:
        raise GraphError(400, "BadRequest", f"Invalid value '{raw}' for $top.") from None
    if top < 1 or top > maximum:
        raise GraphError(
            400,
            "Request_BadRequest",
            f"Invalid page size specified: '{top}'. Must be between 1 and {maximum} inclusive.",
        )
    return top


def _offset_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"RFNwd{offset}".encode()).decode().rstrip("=")


def _offset_of(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if not text.startswith("RFNwd"):
            raise ValueError(text)
        return int(text[5:])
    except ValueError:
        raise GraphError(
            400, "Request_BadRequest", "The specified page token value has expired or is invalid."
        ) from None


def page_of(
    request: GraphRequest,
    resources: Sequence[dict[str, Any]],
    default_top: int,
    max_top: int,
    context: str,
) -> dict[str, Any]:
    """One page of an already filtered list, with an `@odata.nextLink` carrying the query."""
    top = parse_top(request, default_top, max_top)
    token = request.query.get("$skiptoken")
    offset = _offset_of(token) if token else 0
    page: dict[str, Any] = {
        "@odata.context": f"{request.base_url}/$metadata#{context}",
        "value": list(resources[offset : offset + top]),
    }
    if offset + top < len(resources):
        query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = _offset_token(offset + top)
        page["@odata.nextLink"] = with_query(request.base_url, request.path, query)
    return page


def project(
    resource: dict[str, Any], fields: list[str] | None, default: Sequence[str]
) -> dict[str, Any]:
    wanted = default if fields is None else ["id", *fields]
    return {name: resource.get(name) for name in dict.fromkeys(wanted)}
