"""`POST $batch`: multipart/mixed requests, change sets that commit or roll back together.

Each part is dispatched through the full pipeline (privileges, payload checks) with the
batch's bearer token. A change set runs inside one store transaction: the first failing
operation undoes the set's earlier writes and the set answers with that failure alone.
Outside change sets, processing stops at the first failure unless the batch carries
`Prefer: odata.continue-on-error`. At most 1,000 operations per batch.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus

from emulator.dataverse.errors import bad_request
from emulator.dataverse.http import ApiRequest, ApiResponse, split_url

MAX_OPERATIONS = 1000
_BOUNDARY = re.compile(r'boundary="?([^";,\s]+)"?', re.IGNORECASE)

Dispatch = Callable[[ApiRequest], Awaitable[ApiResponse]]
Answers = list[tuple[ApiResponse, str | None]]  # a committed change set: (response, Content-ID)


class ChangeSetFailed(Exception):
    def __init__(self, response: ApiResponse) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class Operation:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    operations: list[Operation] = field(default_factory=list)


def boundary_of(content_type: str | None) -> str:
    found = _BOUNDARY.search(content_type or "")
    if not content_type or not content_type.lower().startswith("multipart/mixed") or not found:
        raise bad_request("A $batch request needs Content-Type: multipart/mixed;boundary=...")
    return found.group(1)


def _parts(body: str, boundary: str) -> list[str]:
    delimiter = f"--{boundary}"
    chunks = body.split(delimiter)
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith("--"):
            break
        parts.append(chunk.lstrip("\r\n") if chunk.startswith(("\r\n", "\n")) else chunk)
    return parts


def _split_headers(text: str) -> tuple[dict[str, str], str]:
    normalised = text.replace("\r\n", "\n")
    head, _, rest = normalised.partition("\n\n")
    headers = {}
    for line in head.split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _operation(part: str) -> Operation:
    part_headers, http_text = _split_headers(part)
    request_line, _, rest = http_text.lstrip("\n").partition("\n")
    pieces = request_line.split()
    if len(pieces) < 2:
        raise bad_request(f"A $batch part has no request line: '{request_line[:80]}'.")
    headers, body = _split_headers(rest)
    return Operation(
        pieces[0].upper(),
        pieces[1],
        headers,
        body.rstrip("\n").encode(),
        part_headers.get("content-id"),
    )


def parse(body: bytes, content_type: str | None) -> list[Operation | ChangeSet]:
    text = body.decode("utf-8", errors="replace")
    items: list[Operation | ChangeSet] = []
    for part in _parts(text, boundary_of(content_type)):
        headers, content = _split_headers(part)
        if headers.get("content-type", "").lower().startswith("multipart/mixed"):
            inner = boundary_of(headers["content-type"])
            items.append(ChangeSet([_operation(p) for p in _parts(content, inner)]))
        else:
            items.append(_operation(part))
    count = sum(len(i.operations) if isinstance(i, ChangeSet) else 1 for i in items)
    if count > MAX_OPERATIONS:
        raise bad_request(f"The batch holds {count} operations; the maximum is {MAX_OPERATIONS}.")
    if count == 0:
        raise bad_request("The $batch request holds no operations.")
    return items


def _request(op: Operation, outer: ApiRequest, created: dict[str, str]) -> ApiRequest:
    url = op.url
    if url.startswith("$") and url[1:].split("/")[0] in created:
        reference = url[1:].split("/")[0]
        url = created[reference] + url[1 + len(reference) :]
    path, query = split_url(url)
    body = op.body
    for reference, entity_url in created.items():  # "nav@odata.bind": "$1"
        body = body.replace(f'"${reference}"'.encode(), json.dumps(entity_url).encode())
    headers = dict(outer.headers)
    headers.pop("content-type", None)
    headers.pop("prefer", None)
    headers.update(op.headers)
    return ApiRequest(op.method, path, query, headers, body, outer.base_url)


def _render(response: ApiResponse, content_id: str | None) -> str:
    reason = HTTPStatus(response.status).phrase
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"HTTP/1.1 {response.status} {reason}"]
    lines += [f"{k}: {v}" for k, v in response.headers.items()]
    lines += ["", response.body.decode()]
    return "\r\n".join(lines)


async def _change_set(change_set: ChangeSet, outer: ApiRequest, dispatch: Dispatch) -> Answers:
    created: dict[str, str] = {}
    answers: Answers = []
    for op in change_set.operations:
        response = await dispatch(_request(op, outer, created))
        if response.status >= 400:
            raise ChangeSetFailed(response)
        if op.content_id and "OData-EntityId" in response.headers:
            created[op.content_id] = response.headers["OData-EntityId"]
        answers.append((response, op.content_id))
    return answers


def render_batch(
    results: list[Answers | ApiResponse],
) -> ApiResponse:
    boundary = f"batchresponse_{uuid.uuid4()}"
    chunks = []
    for result in results:
        if isinstance(result, ApiResponse):
            chunks.append(f"--{boundary}\r\n{_render(result, None)}")
            continue
        inner = f"changesetresponse_{uuid.uuid4()}"
        body = "".join(f"--{inner}\r\n{_render(r, cid)}\r\n" for r, cid in result)
        chunks.append(
            f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={inner}\r\n\r\n"
            f"{body}--{inner}--"
        )
    text = "\r\n".join(chunks) + f"\r\n--{boundary}--\r\n"
    return ApiResponse(
        200,
        text.encode(),
        {"Content-Type": f"multipart/mixed; boundary={boundary}", "OData-Version": "4.0"},
    )


async def execute(
    items: list[Operation | ChangeSet],
    outer: ApiRequest,
    dispatch: Dispatch,
    in_transaction: Callable[[Callable[[], Awaitable[Answers]]], Awaitable[Answers]],
) -> ApiResponse:
    continue_on_error = "odata.continue-on-error" in (outer.header("prefer") or "")
    results: list[Answers | ApiResponse] = []
    for item in items:
        if isinstance(item, ChangeSet):
            change_set = item

            async def body(cs: ChangeSet = change_set) -> Answers:
                return await _change_set(cs, outer, dispatch)

            try:
                results.append(await in_transaction(body))
            except ChangeSetFailed as failed:
                results.append(failed.response)
                if not continue_on_error:
                    break
            continue
        response = await dispatch(_request(item, outer, {}))
        results.append(response)
        if response.status >= 400 and not continue_on_error:
            break
    return render_batch(results)
