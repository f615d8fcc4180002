"""One Web API request end to end: bearer token, application user, service protection,
route, privileges, handler, error body, request log.

The aiohttp front and each `$batch` part both go through `DataverseService.handle`.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import re
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.dataverse import batch, metadata, odata
from emulator.dataverse.calls import Call, not_allowed, require_method
from emulator.dataverse.environment import ApplicationUser, Environment
from emulator.dataverse.errors import (
    NOT_MEMBER,
    DataverseError,
    bad_request,
    record_not_found,
    resource_not_found,
)
from emulator.dataverse.http import ApiRequest, ApiResponse, json_response, no_content
from emulator.dataverse.limits import Protection
from emulator.dataverse.metadata_endpoints import MetadataEndpoints
from emulator.dataverse.privileges import granted_privileges, privilege_denied
from emulator.dataverse.query import CollectionQuery, parse_prefer
from emulator.dataverse.rows import render, wanted_annotations
from emulator.dataverse.store import Store, TableData
from emulator.dataverse.writes import WriteLog, Writer
from emulator.errors import GraphError
from emulator.tokens import TokenService

# Set while a change set runs: its parts already hold the write lock.
_IN_CHANGE_SET: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "in_change_set", default=False
)
_GUID = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
_ENTITY = rf"EntityDefinitions\((?:LogicalName='(?P<logical>[a-z_0-9]+)'|(?P<entity_id>{_GUID}))\)"
_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    ("whoami", re.compile(r"^/WhoAmI(?:\(\))?/?$", re.IGNORECASE)),
    ("batch", re.compile(r"^/\$batch/?$")),
    ("entities", re.compile(r"^/EntityDefinitions/?$")),
    ("entity", re.compile(rf"^/{_ENTITY}/?$")),
    ("attributes", re.compile(rf"^/{_ENTITY}/Attributes/?$")),
    (
        "attributes_cast",
        re.compile(rf"^/{_ENTITY}/Attributes/Microsoft\.Dynamics\.CRM\.(?P<cast>\w+)/?$"),
    ),
    (
        "attribute",
        re.compile(
            rf"^/{_ENTITY}/Attributes\((?:LogicalName='(?P<attribute>[a-z_0-9]+)'"
            rf"|(?P<attribute_id>{_GUID}))\)/?$"
        ),
    ),
    (
        "user_privileges",
        re.compile(
            rf"^/systemusers\((?P<id>{_GUID})\)/Microsoft\.Dynamics\.CRM\."
            r"RetrieveUserPrivileges(?:\(\))?/?$"
        ),
    ),
    ("action", re.compile(r"^/(?P<set>[a-z_]+)/Microsoft\.Dynamics\.CRM\.(?P<action>\w+)/?$")),
    ("record", re.compile(rf"^/(?P<set>[a-z_]+)\((?P<id>{_GUID})\)/?$")),
    ("collection", re.compile(r"^/(?P<set>[a-z_]+)/?$")),
]


@dataclass
class LoggedRequest:
    method: str
    path: str
    user: str | None
    status: int
    started: float
    duration_ms: float
    in_batch: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "user": self.user,
            "status": self.status,
            "started": self.started,
            "durationMs": self.duration_ms,
            "inBatch": self.in_batch,
        }


@dataclass
class DataverseService(MetadataEndpoints):
    store: Store
    tokens: TokenService
    environment: Environment
    protection: Protection
    audiences: set[str] = field(default_factory=set)
    writes: WriteLog = field(default_factory=WriteLog)
    # the last 100,000 requests (a benchmark sends more); counters cover them all
    requests: deque[LoggedRequest] = field(default_factory=lambda: deque(maxlen=100_000))
    request_count: int = 0
    status_counts: Counter[int] = field(default_factory=Counter)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __post_init__(self) -> None:
        # Change sets hold this while they run, so no other write lands in their undo log.
        self._write_lock = asyncio.Lock()

    async def handle(self, request: ApiRequest, *, in_batch: bool = False) -> ApiResponse:
        started = time.time()
        user: ApplicationUser | None = None
        try:
            user = self._caller(request)
            remaining = None
            if not in_batch:
                self.protection.arrived(user.systemuserid)
                remaining = self.protection.admit(user.systemuserid)
            kind, params = _route(request.method, request.path)
            latency = self.protection.inject(request.method, params.get("set"))
            call = Call(request, user, params, in_batch)
            response = await self._guarded(call, kind, latency)
            if remaining is not None:
                response.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] = str(remaining)
        except DataverseError as error:
            response = json_response(error.body(), error.status, error.headers)
        except _Unauthenticated as error:
            response = ApiResponse(401, b"", {"WWW-Authenticate": error.challenge})
        response.headers["x-ms-service-request-id"] = str(uuid.uuid4())
        response.headers.setdefault("OData-Version", "4.0")
        if response.status == 429:
            if user is not None:
                self.protection.told_to_wait(
                    user.systemuserid, response.headers.get("Retry-After"), _code(response)
                )
        self.request_count += 1
        self.status_counts[response.status] += 1
        self.requests.append(
            LoggedRequest(
                request.method,
                request.path,
                user.systemuserid if user else None,
                response.status,
                started,
                (time.time() - started) * 1000.0,
                in_batch,
            )
        )
        return response

    def _caller(self, request: ApiRequest) -> ApplicationUser:
        try:
            claims = self.tokens.verify_bearer(request.header("authorization"), self.audiences)
        except GraphError as error:
            raise _Unauthenticated(self._challenge()) from error
        user = self.environment.application_users.get(claims.app_id)
        if user is None or user.disabled:
            raise DataverseError(403, NOT_MEMBER, "The user is not a member of the organization.")
        return user

    def _challenge(self) -> str:
        resource = min(self.audiences, key=len) if self.audiences else ""
        return (
            "Bearer authorization_uri=https://login.microsoftonline.com/"
            f"{self.tokens.tenant.id}/oauth2/authorize, resource_id={resource}/"
        )

    async def _guarded(self, call: Call, kind: str, latency: float) -> ApiResponse:
        user = call.user.systemuserid
        self.protection.enter(user)
        started = time.perf_counter()
        try:
            if latency > 0:  # spent in flight, so concurrent callers overlap as on a server
                await self.sleep(latency)
            if call.request.method == "GET" or kind == "batch" or _IN_CHANGE_SET.get():
                return await self._route_call(call, kind)
            async with self._write_lock:
                return await self._route_call(call, kind)
        finally:
            self.protection.leave(user)
            # execution time: the handler's, and the latency injected as spent in flight
            self.protection.spent(user, time.perf_counter() - started)

    async def _route_call(self, call: Call, kind: str) -> ApiResponse:
        handler = getattr(self, f"_{kind}")
        response: ApiResponse = await handler(call)
        return response

    # -- handlers ---------------------------------------------------------------
    async def _whoami(self, call: Call) -> ApiResponse:
        require_method(call, "GET")
        return json_response(
            {
                "@odata.context": (
                    f"{call.request.base_url}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"
                ),
                "BusinessUnitId": self.environment.business_unit_id,
                "UserId": call.user.systemuserid,
                "OrganizationId": self.environment.organization_id,
            }
        )

    async def _batch(self, call: Call) -> ApiResponse:
        require_method(call, "POST")
        if call.in_batch:
            raise bad_request("A $batch cannot hold another $batch.")
        items = batch.parse(call.request.body, call.request.header("content-type"))

        async def dispatch(request: ApiRequest) -> ApiResponse:
            return await self.handle(request, in_batch=True)

        async def in_transaction(
            body: Callable[[], Awaitable[batch.Answers]],
        ) -> batch.Answers:
            async with self._write_lock:
                start = len(self.writes.entries)
                marker = _IN_CHANGE_SET.set(True)
                try:
                    with self.store.transaction():
                        return await body()
                except batch.ChangeSetFailed:
                    self.writes.mark_rolled_back(start)
                    raise
                finally:
                    _IN_CHANGE_SET.reset(marker)

        return await batch.execute(items, call.request, dispatch, in_transaction)

    def _table(self, call: Call, access: str, privilege: str) -> TableData:
        data = self.store.data(call.params["set"])
        if data is None:
            raise resource_not_found(call.params["set"])
        if not call.user.allows(data.table.logical_name, access):
            raise privilege_denied(call.user, privilege, data)
        return data

    def _writer(self, call: Call) -> Writer:
        return Writer(self.store, self.writes, call.user.systemuserid, call.in_batch)

    async def _collection(self, call: Call) -> ApiResponse:
        if call.request.method == "POST":
            data = self._table(call, "write", "prvCreate")
            record_id = self._writer(call).create(data, call.request.json())
            return self._created(call, data, record_id)
        require_method(call, "GET")
        data = self._table(call, "read", "prvRead")
        prefer = parse_prefer(call.request.header("prefer"))
        page = CollectionQuery(
            self.store, data, call.request.query, prefer, call.request.base_url
        ).run()
        headers = {"Preference-Applied": ",".join(page.applied)} if page.applied else {}
        return json_response(page.body, headers=headers)

    def _created(self, call: Call, data: TableData, record_id: str) -> ApiResponse:
        entity_url = f"{call.request.base_url}/{data.table.entity_set}({record_id})"
        prefer = parse_prefer(call.request.header("prefer"))
        if "return" in prefer and prefer["return"] == "representation":
            body = render(self.store, data.table, data.rows[record_id], None, [])
            return json_response(body, 201, {"OData-EntityId": entity_url})
        return no_content({"OData-EntityId": entity_url})

    async def _record(self, call: Call) -> ApiResponse:
        method = call.request.method
        record_id = call.params["id"].lower()
        if method == "GET":
            data = self._table(call, "read", "prvRead")
            row = data.rows.get(record_id)
            if row is None:
                raise record_not_found(data.table.logical_name, record_id)
            select = odata.parse_select(
                call.request.query.get("$select"),
                lambda n: data.table.column_for_property(n) is not None,
            )
            prefer = parse_prefer(call.request.header("prefer"))
            body = render(self.store, data.table, row, select, wanted_annotations(prefer))
            body["@odata.context"] = (
                f"{call.request.base_url}/$metadata#{data.table.entity_set}/$entity"
            )
            return json_response(body)
        if method == "PATCH":
            return self._patch(call, record_id)
        if method == "DELETE":
            data = self._table(call, "write", "prvDelete")
            self._writer(call).delete(data, record_id)
            return no_content()
        raise not_allowed(method)

    def _patch(self, call: Call, record_id: str) -> ApiResponse:
        """Update; `If-Match: *` (or an etag) never creates, `If-None-Match: *` never updates;
        neither header: an upsert."""
        data = self._table(call, "write", "prvWrite")
        if_match = call.request.header("if-match")
        existing = data.rows.get(record_id)
        if call.request.header("if-none-match") == "*" and existing is not None:
            raise DataverseError(
                412, "0x80040237", "A record with matching key values already exists."
            )
        if if_match not in (None, "*") and existing is not None:
            current = f'W/"{existing.values.get("versionnumber")}"'
            if if_match.removeprefix("W/") != current.removeprefix("W/"):
                raise DataverseError(
                    412,
                    "0x80060882",
                    "The version of the existing record doesn't match the RowVersion property "
                    "provided.",
                )
        created = self._writer(call).update(
            data, record_id, call.request.json(), must_exist=if_match is not None
        )
        if created:
            return self._created(call, data, record_id)
        return no_content(
            {"OData-EntityId": f"{call.request.base_url}/{data.table.entity_set}({record_id})"}
        )

    async def _action(self, call: Call) -> ApiResponse:
        require_method(call, "POST")
        action = call.params["action"]
        if action == "UpdateMultiple":
            data = self._table(call, "write", "prvWrite")
            self._writer(call).update_multiple(data, call.request.json())
            return no_content()
        if action == "CreateMultiple":
            data = self._table(call, "write", "prvCreate")
            ids = self._writer(call).create_multiple(data, call.request.json())
            return json_response(
                {
                    "@odata.context": (
                        f"{call.request.base_url}/$metadata#"
                        "Microsoft.Dynamics.CRM.CreateMultipleResponse"
                    ),
                    "Ids": ids,
                }
            )
        raise resource_not_found(f"Microsoft.Dynamics.CRM.{action}")

    async def _user_privileges(self, call: Call) -> ApiResponse:
        """RetrieveUserPrivileges: what a check command reads instead of trying writes."""
        require_method(call, "GET")
        user_id = call.params["id"].lower()
        if user_id not in self.store.tables["systemusers"].rows:
            raise record_not_found("systemuser", user_id)
        holder = next(
            (u for u in self.environment.application_users.values() if u.systemuserid == user_id),
            None,
        )
        privileges = [] if holder is None else granted_privileges(self.store, holder)
        return json_response(
            {
                "@odata.context": (
                    f"{call.request.base_url}/$metadata#"
                    "Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse"
                ),
                "RolePrivileges": [
                    {
                        "Depth": "Global",
                        "PrivilegeId": metadata.metadata_id("privilege", name),
                        "BusinessUnitId": self.environment.business_unit_id,
                        "PrivilegeName": name,
                    }
                    for name in privileges
                ],
            }
        )


class _Unauthenticated(Exception):
    def __init__(self, challenge: str) -> None:
        super().__init__("unauthenticated")
        self.challenge = challenge


def _code(response: ApiResponse) -> str | None:
    """The Dataverse error code of an error response's body."""
    try:
        code = json.loads(response.body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(code)


def _route(method: str, path: str) -> tuple[str, dict[str, str]]:
    for kind, pattern in _ROUTES:
        found = pattern.match(path)
        if found is not None:
            return kind, {k: v for k, v in found.groupdict().items() if v is not None}
    segment = next((s for s in reversed(path.split("/")) if s), path)
    raise resource_not_found(segment)
