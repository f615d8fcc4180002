"""`POST /$batch`: up to 20 requests, each answered (and throttled) on its own."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from emulator.errors import GraphError
from emulator.http import GraphRequest, GraphResponse, json_response, split_url
from emulator.routing import Context, Router

MAX_REQUESTS = 20
PARALLELISM = 4  # Outlook runs at most four items of one batch at a time


def _parse(body: bytes) -> list[dict[str, Any]]:
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise GraphError(400, "BadRequest", "Invalid batch payload format.") from None
    requests = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(requests, list) or not requests:
        raise GraphError(400, "BadRequest", "Invalid batch payload format.")
    if len(requests) > MAX_REQUESTS:
        raise GraphError(
            400, "BadRequest", f"Number of batch requests exceeds the limit of {MAX_REQUESTS}."
        )
    ids = [str(r.get("id")) if isinstance(r, dict) else None for r in requests]
    if None in ids or any(not isinstance(r.get("url"), str) for r in requests):
        raise GraphError(400, "BadRequest", "Each batch request needs an id and a url.")
    if len(set(ids)) != len(ids):
        raise GraphError(400, "BadRequest", "Batch request ids must be unique.")
    return requests


def _sub_request(outer: GraphRequest, item: dict[str, Any]) -> GraphRequest:
    path, query = split_url(item["url"])
    headers = {k.lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    for inherited in ("authorization", "client-request-id"):
        if inherited in outer.headers:
            headers.setdefault(inherited, outer.headers[inherited])
    body = msgspec.json.encode(item["body"]) if "body" in item else b""
    return GraphRequest(
        str(item.get("method", "GET")).upper(), path, query, headers, body, outer.base_url
    )


def _answer(item_id: str, response: GraphResponse) -> dict[str, Any]:
    headers = {
        k: v
        for k, v in response.headers.items()
        if k.lower() in ("retry-after", "content-type", "location", "preference-applied")
    }
    return {"id": item_id, "status": response.status, "headers": headers, "body": response.json}


async def handle_batch(ctx: Context) -> GraphResponse:
    assert ctx.dispatch is not None
    dispatch = ctx.dispatch
    items = _parse(ctx.request.body)
    gate = asyncio.Semaphore(1 if any("dependsOn" in i for i in items) else PARALLELISM)

    async def run(item: dict[str, Any]) -> dict[str, Any]:
        async with gate:
            return _answer(str(item["id"]), await dispatch(_sub_request(ctx.request, item)))

    responses = await asyncio.gather(*(run(item) for item in items))
    return json_response({"responses": list(responses)})


def register(router: Router) -> None:
    router.add("POST", r"/\$batch", "batch", handle_batch)
