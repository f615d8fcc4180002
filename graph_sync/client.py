"""The Graph client: msgraph-sdk request builders, auth and middleware; raw bytes back.

Requests are built by the SDK's request builders and sent through its
adapter (auth provider, middleware pipeline), but the response body comes
back as bytes and is decoded by graph_sync.wire: the SDK's model
deserializers cost milliseconds per message (msgraph-sdk-python#584).

The SDK's own RetryHandler is switched off: retries live in retry.py only.
The SDK is imported lazily, since it takes a noticeable time to import and
commands that never talk to Graph should not pay for it.
"""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from consent.admin_url import GRAPH_DEFAULT_SCOPE
from graph_sync.exceptions import (
    AccessDenied,
    ForeignLink,
    GraphRequestFailed,
    SyncStateExpired,
    Throttled,
    TransportError,
)
from graph_sync.host_pin import GraphHost, origin_of

MESSAGE_FIELDS = (
    "id",
    "internetMessageId",
    "conversationId",
    "from",
    "sender",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "sentDateTime",
    "receivedDateTime",
    "isDraft",
)
USER_FIELDS = ("id", "mail", "userPrincipalName", "preferredDataLocation")
FOLDER_FIELDS = ("id", "displayName", "childFolderCount", "wellKnownName")
EXPIRED_CODES = frozenset({"syncStateNotFound", "resyncRequired", "SyncStateNotFound"})
TRANSIENT_STATUSES = frozenset({429, 503, 504})


def _sdk() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # upstream import-time warnings
        import msgraph
        import msgraph_core
        from kiota_abstractions.api_error import APIError
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from kiota_authentication_azure import azure_identity_authentication_provider as auth
        from kiota_http.middleware.options import RetryHandlerOption
        from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    return (
        msgraph,
        msgraph_core,
        RequestConfiguration,
        auth,
        RetryHandlerOption,
        ODataError,
        APIError,
    )


@dataclass(frozen=True)
class Limits:
    page_size: int = 500
    global_concurrency: int = 16
    timeout_seconds: float = 60.0


class GraphClient:
    """One app's view of one tenant's Graph; close it with `aclose()`."""

    def __init__(self, credential: Any, base_url: str, limits: Limits) -> None:
        msgraph, core, self._config_type, auth, retry_option, odata_error, api_error = _sdk()
        # The error map takes the model class (a parsable factory), not its factory method.
        self._error_map = {"XXX": odata_error}
        self._api_error = api_error
        self.host = GraphHost.of(base_url)
        # allowed_hosts compares host names only (a second port on the same host
        # passes): `send` checks the full pin (host_pin.py) before anything leaves.
        provider = auth.AzureIdentityAuthenticationProvider(
            credential, scopes=[GRAPH_DEFAULT_SCOPE], allowed_hosts=[self.host.host]
        )
        # msgraph-core's AsyncGraphTransport does not close the transport it wraps:
        # keep our own handle on the connection pool and close it ourselves.
        self._transport = httpx.AsyncHTTPTransport()
        self._http = core.GraphClientFactory.create_with_default_middleware(
            client=httpx.AsyncClient(transport=self._transport, timeout=limits.timeout_seconds),
            options={retry_option.get_key(): retry_option(should_retry=False)},
        )
        adapter = msgraph.GraphRequestAdapter(provider, client=self._http)
        adapter.base_url = base_url.rstrip("/")
        self._adapter = adapter
        self.sdk = msgraph.GraphServiceClient(request_adapter=adapter)
        self.limits = limits
        self._global = asyncio.Semaphore(limits.global_concurrency)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._transport.aclose()

    def config(self, query: Any = None, *, paged: bool = True, utc: bool = False) -> Any:
        config = self._config_type(query_parameters=query)
        if paged:  # must be sent on every request of a delta round, not only the first
            config.headers.add("Prefer", f"odata.maxpagesize={self.limits.page_size}")
        if utc:
            config.headers.add("Prefer", 'outlook.timezone="UTC"')
        return config

    def owns(self, link: str) -> bool:
        """May this link be requested (with the token)? Only under the configured base URL."""
        return self.host.owns(link)

    async def send(self, request_info: Any) -> bytes:
        """Send one request through the SDK pipeline; raise our exception tree on failure."""
        # The URL the adapter will send to: a template is expanded with its base URL.
        self._adapter.set_base_url_for_request_information(request_info)
        url = str(request_info.url)
        if not self.host.owns(url):
            # The last gate: whatever link led here, the token never leaves for another host.
            raise ForeignLink(
                f"refused to send a request to {origin_of(url)}: not under the configured "
                f"Graph base URL ({self.host.origin}{self.host.base_path})"
            )
        async with self._global:
            try:
                body = await self._adapter.send_primitive_async(
                    request_info, "bytes", self._error_map
                )
            except self._api_error as error:
                # ODataError for a Graph error body; a bare APIError for a body that is
                # not one (an HTML gateway page): both carry the status and headers.
                raise translate_error(error) from None
            except httpx.TransportError as error:
                raise TransportError(f"transport: {type(error).__name__}") from None
        return body or b"{}"

    # --- request builders -------------------------------------------------------------

    def users_request(self, top: int) -> Any:
        users = self.sdk.users
        query = users.UsersRequestBuilderGetQueryParameters(select=list(USER_FIELDS), top=top)
        return users.to_get_request_information(self.config(query, paged=False))

    def users_page(self, next_link: str) -> Any:
        return self.sdk.users.with_url(next_link).to_get_request_information(
            self.config(paged=False)
        )

    def group_users_request(self, group_id: str, top: int) -> Any:
        """The users in a group, nested groups included (GET .../transitiveMembers/graph.user)."""
        users = self.sdk.groups.by_group_id(group_id).transitive_members.graph_user
        query = users.GraphUserRequestBuilderGetQueryParameters(select=["id"], top=top)
        return users.to_get_request_information(self.config(query, paged=False))

    def group_users_page(self, group_id: str, next_link: str) -> Any:
        users = self.sdk.groups.by_group_id(group_id).transitive_members.graph_user
        return users.with_url(next_link).to_get_request_information(self.config(paged=False))

    def folders_request(self, user_id: str, parent_id: str | None) -> Any:
        folders = self.sdk.users.by_user_id(user_id).mail_folders
        if parent_id is not None:
            folders = folders.by_mail_folder_id(parent_id).child_folders
        query_type = _query_type(folders)
        query = query_type(select=list(FOLDER_FIELDS), top=100)
        return folders.to_get_request_information(self.config(query, paged=False))

    def folder_request(self, user_id: str, folder: str) -> Any:
        """One folder by id or well-known name (inbox, deleteditems, ...)."""
        builder = self.sdk.users.by_user_id(user_id).mail_folders.by_mail_folder_id(folder)
        query = builder.MailFolderItemRequestBuilderGetQueryParameters(select=["id"])
        return builder.to_get_request_information(self.config(query, paged=False))

    def folders_page(self, user_id: str, next_link: str) -> Any:
        folders = self.sdk.users.by_user_id(user_id).mail_folders
        return folders.with_url(next_link).to_get_request_information(self.config(paged=False))

    def message_delta_request(self, user_id: str, folder_id: str, since: datetime) -> Any:
        delta = (
            self.sdk.users.by_user_id(user_id)
            .mail_folders.by_mail_folder_id(folder_id)
            .messages.delta
        )
        query = delta.DeltaRequestBuilderGetQueryParameters(
            select=list(MESSAGE_FIELDS),
            filter=f"receivedDateTime ge {since.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        )
        return delta.to_get_request_information(self.config(query))

    def message_delta_link(self, user_id: str, folder_id: str, link: str) -> Any:
        delta = (
            self.sdk.users.by_user_id(user_id)
            .mail_folders.by_mail_folder_id(folder_id)
            .messages.delta
        )
        return delta.with_url(link).to_get_request_information(self.config())

    def calendar_delta_request(self, user_id: str, start: datetime, end: datetime) -> Any:
        delta = self.sdk.users.by_user_id(user_id).calendar_view.delta
        query = delta.DeltaRequestBuilderGetQueryParameters(
            start_date_time=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            end_date_time=end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        return delta.to_get_request_information(self.config(query, utc=True))

    def calendar_delta_link(self, user_id: str, link: str) -> Any:
        delta = self.sdk.users.by_user_id(user_id).calendar_view.delta
        return delta.with_url(link).to_get_request_information(self.config(utc=True))


def _query_type(builder: Any) -> Any:
    name = type(builder).__name__ + "GetQueryParameters"
    return getattr(builder, name)


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    try:
        values = headers.get(name) or headers.get(name.lower())
    except (AttributeError, KeyError):
        return None
    if isinstance(values, set | list | tuple):
        return next(iter(values), None)
    return str(values) if values else None


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def translate_error(error: Any) -> Exception:
    status = int(getattr(error, "response_status_code", 0) or 0)
    main = getattr(error, "error", None)
    code = str(getattr(main, "code", None) or "unknown")
    message = str(getattr(main, "message", None) or "")[:200]
    headers = getattr(error, "response_headers", None)
    if status in TRANSIENT_STATUSES:
        return Throttled(status, code, _seconds(_header(headers, "Retry-After")))
    if status == 410 or code in EXPIRED_CODES:
        return SyncStateExpired(f"HTTP {status} {code}")
    if status == 403:
        return AccessDenied(code, message)
    return GraphRequestFailed(status, code, message)
