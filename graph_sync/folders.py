"""Which mail folders of a mailbox to sync: every folder, fully paged, minus exclusions.

Graph v1.0 does not say which folder is "Deleted Items" in a listing (names
are localised), so excluded well-known folders are resolved to ids by asking
for them by their well-known name. A listing that failed part-way raises:
a partial listing is never mistaken for folders having been deleted.
"""

from __future__ import annotations

import functools

import msgspec

from graph_sync.context import SyncContext, SyncCounters
from graph_sync.exceptions import GraphRequestFailed
from graph_sync.wire import FOLDER_PAGE, Folder, FolderPage

SINGLE_FOLDER = msgspec.json.Decoder(Folder)


def _decode_folders(body: bytes) -> FolderPage:
    return FOLDER_PAGE.decode(body)


async def _list_level(
    ctx: SyncContext, mailbox_id: str, parent_id: str | None, counters: SyncCounters
) -> list[Folder]:
    folders: list[Folder] = []
    first = functools.partial(ctx.client.folders_request, mailbox_id, parent_id)
    following = functools.partial(ctx.client.folders_page, mailbox_id)
    async for page in ctx.pages(mailbox_id, counters, first, following, _decode_folders):
        folders += page.value
    return folders


async def _well_known_ids(ctx: SyncContext, mailbox_id: str, counters: SyncCounters) -> set[str]:
    ids: set[str] = set()
    for name in ctx.excluded_folders:
        try:
            build = functools.partial(ctx.client.folder_request, mailbox_id, name)
            folder = await ctx.fetch(mailbox_id, counters, build, SINGLE_FOLDER.decode)
        except GraphRequestFailed as missing:
            if missing.status == 404:  # this mailbox has no such folder
                continue
            raise
        ids.add(folder.id)
    return ids


async def folders_to_sync(ctx: SyncContext, mailbox_id: str, counters: SyncCounters) -> list[str]:
    excluded = await _well_known_ids(ctx, mailbox_id, counters)
    excluded_names = {name.lower() for name in ctx.excluded_folders}
    chosen: list[str] = []
    pending: list[str | None] = [None]
    while pending:
        parent = pending.pop()
        for folder in await _list_level(ctx, mailbox_id, parent, counters):
            name = (folder.displayName or "").lower()
            if folder.id in excluded or name in excluded_names:
                continue  # its subfolders go with it
            chosen.append(folder.id)
            if folder.childFolderCount:
                pending.append(folder.id)
    return chosen
