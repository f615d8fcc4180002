"""Delta sync of one mail folder or the calendar: a small paging state machine.

State is the link to request next (None = start a baseline). Each page is
decoded, normalised and committed together with the link that follows it;
the loop ends at the delta link. While a page commits, the next one is
already being fetched (one page of look-ahead). An expired sync state
re-baselines this folder only: a new round re-reads it, upserts dedupe, and
sightings the new baseline did not see are dropped when it completes (no
duplicates, no loss). A stored link for another host than the configured
Graph (the base URL changed since it was stored) is re-baselined the same
way instead of being followed; a page whose links point elsewhere fails its
folder (graph_sync/host_pin.py).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog

from graph_sync.context import SyncContext, SyncCounters
from graph_sync.exceptions import ForeignLink, SyncInterrupted, SyncStateExpired, UndecodablePage
from graph_sync.host_pin import origin_of
from graph_sync.wire import EVENT, MESSAGE, PAGE, Page
from storage.interaction_store import InteractionRecord
from storage.sync_store import Cursor, PageWrite, start_rebaseline

log = structlog.stdlib.get_logger("rapport.graph_sync")
CALENDAR = "calendar"
MAX_REBASELINES_PER_ROUND = 2


@dataclass(frozen=True)
class FolderJob:
    mailbox_id: str
    folder_id: str  # a mail folder id, or CALENDAR

    @property
    def kind(self) -> str:
        return "calendar" if self.folder_id == CALENDAR else "mail"


@dataclass
class DecodedPage:
    seen: list[tuple[str, InteractionRecord]]
    gone: list[str]
    next_link: str | None
    delta_link: str | None


def decode_page(body: bytes) -> Page:
    try:
        return PAGE.decode(body)
    except msgspec.DecodeError:
        raise UndecodablePage("response body is not a JSON page (truncated?)") from None


def _items(ctx: SyncContext, job: FolderJob, page: Page, counters: SyncCounters) -> DecodedPage:
    decoder: Any = EVENT if job.kind == "calendar" else MESSAGE
    normalise: Callable[[Any], InteractionRecord | None] = (
        ctx.normaliser.event if job.kind == "calendar" else ctx.normaliser.message
    )
    decoded = DecodedPage([], [], page.next_link, page.delta_link)
    for position, raw in enumerate(page.value):
        try:
            item = decoder.decode(raw)
            record = None if item.removed else normalise(item)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as problem:
            counters.malformed += 1
            # Position and error only: the item's content is never logged.
            log.warning(
                "skipped a malformed Graph item",
                position=position,
                error=str(problem).split("\n")[0][:120],
            )
            continue
        counters.items += 1
        if record is None:
            decoded.gone.append(item.id)
        else:
            decoded.seen.append((item.id, record))
    return decoded


def _request(ctx: SyncContext, job: FolderJob, link: str | None) -> Any:
    client, window = ctx.client, ctx.window
    if job.kind == "calendar":
        if link is None:
            return client.calendar_delta_request(
                job.mailbox_id, window.calendar_start, window.calendar_end
            )
        return client.calendar_delta_link(job.mailbox_id, link)
    if link is None:
        return client.message_delta_request(job.mailbox_id, job.folder_id, window.mail_since)
    return client.message_delta_link(job.mailbox_id, job.folder_id, link)


def _refuse_foreign_links(ctx: SyncContext, job: FolderJob, page: Page) -> None:
    """A page whose next or delta link leaves the configured Graph is a malformed
    response: nothing of it is committed, so no such link becomes a cursor."""
    for name, link in (("@odata.nextLink", page.next_link), ("@odata.deltaLink", page.delta_link)):
        if link is not None and not ctx.client.owns(link):
            raise ForeignLink(
                f"folder {job.folder_id}: the response's {name} points to {origin_of(link)}, "
                "outside the configured Graph base URL; not followed"
            )


async def _rebaseline(ctx: SyncContext, job: FolderJob) -> int:
    """Forget the folder's links and open a new round; returns its number."""
    return await ctx.in_thread(
        start_rebaseline,
        ctx.engine,
        mailbox_id=job.mailbox_id,
        folder_id=job.folder_id,
        kind=job.kind,
    )


async def _stored_link(
    ctx: SyncContext, job: FolderJob, cursor: Cursor | None, counters: SyncCounters
) -> tuple[str | None, int]:
    """The link to resume from and its round. A link stored for another host (the base
    URL changed since) is never followed: the folder is re-baselined, as for an expired
    delta token."""
    if cursor is None:
        return None, 0
    link = cursor.next_link or cursor.delta_link
    if link is None or ctx.client.owns(link):
        return link, cursor.round
    counters.rebaselines += 1
    counters.foreign_links += 1
    log.warning(
        "stored link is not under the configured Graph base URL; re-baselining the folder",
        stored_for=origin_of(link),
    )
    return None, await _rebaseline(ctx, job)


def _fetch(ctx: SyncContext, job: FolderJob, link: str | None, counters: SyncCounters) -> Any:
    build = functools.partial(_request, ctx, job, link)
    return asyncio.ensure_future(ctx.fetch(job.mailbox_id, counters, build, decode_page))


def _forget(task: asyncio.Future[Any] | None) -> None:
    """Drop a look-ahead page that will not be committed (its link stays the cursor)."""
    if task is None:
        return
    task.cancel()
    # Mark its outcome as seen, so an error it ended with is not reported as unhandled.
    task.add_done_callback(lambda done: done.cancelled() or done.exception())


async def sync_folder(
    ctx: SyncContext, job: FolderJob, cursor: Cursor | None, counters: SyncCounters
) -> None:
    """One folder's pages; every event logged meanwhile (retries, pages, skipped items)
    names the mailbox and the folder, bound as log context for this task."""
    with structlog.contextvars.bound_contextvars(mailbox=job.mailbox_id, folder=job.folder_id):
        await _sync_folder(ctx, job, cursor, counters)


async def _sync_folder(
    ctx: SyncContext, job: FolderJob, cursor: Cursor | None, counters: SyncCounters
) -> None:
    link, round_ = await _stored_link(ctx, job, cursor, counters)
    rebaselines = 0
    ahead: asyncio.Future[Page] | None = None
    try:
        while not ctx.stopping.is_set():
            fetching, ahead = ahead or _fetch(ctx, job, link, counters), None
            try:
                page = await fetching
            except SyncStateExpired:
                rebaselines += 1
                if rebaselines > MAX_REBASELINES_PER_ROUND:
                    raise
                counters.rebaselines += 1
                log.info("sync state expired; re-baselining the folder")
                round_ = await _rebaseline(ctx, job)
                link = None
                continue
            _refuse_foreign_links(ctx, job, page)
            decoded = _items(ctx, job, page, counters)
            more = decoded.delta_link is None and decoded.next_link is not None
            if more and not ctx.stopping.is_set():
                # Fetch the next page while this one commits: Graph and the database
                # work at the same time. Cursors still advance strictly in order.
                ahead = _fetch(ctx, job, decoded.next_link, counters)
            write = PageWrite(
                job.mailbox_id,
                job.folder_id,
                job.kind,
                round_,
                decoded.seen,
                decoded.gone,
                decoded.next_link,
                decoded.delta_link,
                ctx.window.now,
            )
            committed = await ctx.commit(write)
            counters.add_page(committed)
            # Ids and counts only: never addresses, subjects or links (they hold tokens).
            log.info(
                "page committed",
                items=len(page.value),
                added=committed.added,
                updated=committed.updated,
                removed=committed.removed,
            )
            if not more:
                return
            link = decoded.next_link
        raise SyncInterrupted(f"stopped before the next page of folder {job.folder_id}")
    finally:
        _forget(ahead)
