"""Mail folders and per-folder message delta."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

from emulator import delta, permissions
from emulator.errors import GraphError
from emulator.http import GraphResponse, json_response
from emulator.paging import page_of, parse_select
from emulator.routing import Context, Router
from emulator.state import Folder
from emulator.store import Item, Rendering

MESSAGE_FIELDS = frozenset(
    {
        "id",
        "createdDateTime",
        "lastModifiedDateTime",
        "changeKey",
        "categories",
        "receivedDateTime",
        "sentDateTime",
        "hasAttachments",
        "internetMessageId",
        "subject",
        "bodyPreview",
        "importance",
        "parentFolderId",
        "conversationId",
        "conversationIndex",
        "isDeliveryReceiptRequested",
        "isReadReceiptRequested",
        "isRead",
        "isDraft",
        "webLink",
        "inferenceClassification",
        "body",
        "sender",
        "from",
        "toRecipients",
        "ccRecipients",
        "bccRecipients",
        "replyTo",
        "uniqueBody",
        "flag",
        "internetMessageHeaders",
        "attachments",
        "extensions",
    }
)
MALFORMED = {"from": ("from", "not-an-address"), "date": ("receivedDateTime", "last Tuesday-ish")}


def project_items(
    items: list[Item | msgspec.Raw], select: str, basic: bool, malformed: str | None
) -> list[Item | msgspec.Raw]:
    """Apply `$select`, withhold what ReadBasic forbids, and inject a fault if asked.

    Pre-rendered (Raw) items were already projected by the baseline.
    """
    withheld = permissions.BASIC_WITHHELD if basic else frozenset()
    fields = [f for f in select.split(",") if f not in withheld] if select else None
    out: list[Item | msgspec.Raw] = []
    for item in items:
        if isinstance(item, msgspec.Raw) or "@removed" in item:
            out.append(item)
        elif fields is not None:
            projected = {"id": item["id"]}
            projected.update({f: item[f] for f in fields if f in item})
            out.append(projected)
        elif withheld:
            out.append({k: v for k, v in item.items() if k not in withheld})
        else:
            out.append(item)
    if malformed and out:
        field, value = MALFORMED.get(malformed, MALFORMED["from"])
        middle = len(out) // 2
        victim = out[middle]
        if isinstance(victim, msgspec.Raw):
            victim = msgspec.json.decode(victim)
        out[middle] = {**victim, field: value}
    return out


def rendering(select: str, basic: bool) -> Rendering:
    fields = tuple(select.split(",")) if select else None
    return Rendering(fields, permissions.BASIC_WITHHELD if basic else frozenset())


_FILTER = re.compile(
    r"^\s*receivedDateTime\s+(ge|gt)\s+(\d{4}-\d\d-\d\dT[\d:.]+Z?)\s*$", re.IGNORECASE
)


def _received_filter(expression: str | None) -> str:
    """Delta on messages supports only `receivedDateTime ge|gt <time>`; kept in the tokens."""
    if not expression:
        return ""
    found = _FILTER.match(expression)
    if found is None:
        raise GraphError(
            400,
            "ErrorInvalidUrlQueryFilter",
            "The query filter contains one or more invalid nodes.",
        )
    return f"{found.group(1).lower()}|{found.group(2).rstrip('Z')}"


def _keep(received_filter: str) -> Callable[[Item], bool] | None:
    if not received_filter:
        return None
    operator, bound = received_filter.split("|")
    if operator == "ge":
        return lambda item: str(item.get("receivedDateTime", "")).rstrip("Z") >= bound
    return lambda item: str(item.get("receivedDateTime", "")).rstrip("Z") > bound


def _folder_page(ctx: Context, folders: list[Folder], context: str) -> GraphResponse:
    resources = [f.resource() for f in folders]
    return json_response(page_of(ctx.request, resources, 10, 999, context))


async def list_folders(ctx: Context) -> GraphResponse:
    permissions.require_mail(ctx.claims.roles)
    mailbox = ctx.state.mailbox(ctx.params["user"])
    folders = [mailbox.folders[i] for i in mailbox.top_level]
    return _folder_page(ctx, folders, f"users('{mailbox.user.id}')/mailFolders")


async def list_child_folders(ctx: Context) -> GraphResponse:
    permissions.require_mail(ctx.claims.roles)
    mailbox = ctx.state.mailbox(ctx.params["user"])
    parent = mailbox.folder(ctx.params["folder"])
    children = [mailbox.folders[i] for i in parent.child_ids]
    return _folder_page(
        ctx, children, f"users('{mailbox.user.id}')/mailFolders('{parent.spec.id}')/childFolders"
    )


async def get_folder(ctx: Context) -> GraphResponse:
    permissions.require_mail(ctx.claims.roles)
    mailbox = ctx.state.mailbox(ctx.params["user"])
    folder = mailbox.folder(ctx.params["folder"])
    context = f"{ctx.request.base_url}/$metadata#users('{mailbox.user.id}')/mailFolders/$entity"
    return json_response({"@odata.context": context, **folder.resource()})


async def messages_delta(ctx: Context) -> GraphResponse:
    basic = permissions.require_mail(ctx.claims.roles)
    mailbox = ctx.state.mailbox(ctx.params["user"])
    folder = mailbox.folder(ctx.params["folder"])
    key = f"{mailbox.user.id}/{folder.spec.id}"
    fields = parse_select(ctx.request.query, MESSAGE_FIELDS, "Microsoft.OutlookServices.Message")
    received_filter = _received_filter(ctx.request.query.get("$filter"))
    state = delta.read_state(
        ctx.request, folder.collection, key, ",".join(fields or []), received_filter
    )
    result = delta.read_page(
        ctx.request, folder.collection, state, _keep(state.window), rendering(state.select, basic)
    )
    body: dict[str, Any] = {
        "@odata.context": f"{ctx.request.base_url}/$metadata#Collection(message)",
        **delta.links(ctx.request, result),
        "value": project_items(result.page.items, state.select, basic, ctx.malformed),
    }
    return json_response(body, headers=delta.response_headers(result))


async def mailbox_wide_delta(ctx: Context) -> GraphResponse:
    raise GraphError(
        400,
        "ErrorInvalidRequest",
        "Change tracking is only supported per mail folder: use /mailFolders/{id}/messages/delta.",
    )


def register(router: Router) -> None:
    router.add("GET", "{USER}/mailFolders", "mailFolders", list_folders)
    router.add("GET", "{USER}/mailFolders/(?P<folder>[^/]+)", "mailFolders", get_folder)
    router.add(
        "GET",
        "{USER}/mailFolders/(?P<folder>[^/]+)/childFolders",
        "mailFolders",
        list_child_folders,
    )
    router.add(
        "GET", "{USER}/mailFolders/(?P<folder>[^/]+)/messages/{DELTA}", "messages", messages_delta
    )
    router.add("GET", "{USER}/messages/{DELTA}", "messages", mailbox_wide_delta)
