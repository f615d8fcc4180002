"""One mailbox's round: list its folders, delta-sync each folder and the calendar.

Folders run concurrently under the mailbox's request gate (at most four
requests in flight, Outlook's limit). Whatever happens, the mailbox ends the
round with a status and, on failure, the last error; committed cursors stay,
so the next round resumes where this one stopped.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import structlog

from graph_sync.context import SyncContext, SyncCounters
from graph_sync.delta import CALENDAR, FolderJob, sync_folder
from graph_sync.exceptions import (
    AccessDenied,
    GraphSyncError,
    SyncInterrupted,
    TransientError,
)
from graph_sync.folders import folders_to_sync
from storage.engine import session_scope
from storage.mailbox_store import (
    MAILBOX,
    add_ingested,
    drop_folder,
    purge_exchange_data,
    set_status,
)
from storage.sync_store import Cursor, load_cursors

log = structlog.stdlib.get_logger("rapport.graph_sync")


@dataclass
class MailboxOutcome:
    mailbox_id: str
    status: str
    error: str | None = None
    counters: SyncCounters = field(default_factory=SyncCounters)
    seconds: float = 0.0


def _begin(ctx: SyncContext, mailbox_id: str) -> dict[str, Cursor]:
    with session_scope(ctx.engine) as session:
        since = session.execute(
            MAILBOX.select()
            .with_only_columns(MAILBOX.c.exchange_since)
            .where(MAILBOX.c.id == mailbox_id)
        ).scalar()
        set_status(
            session=session,
            mailbox_id=mailbox_id,
            status="syncing",
            syncing_since=ctx.window.now,
            last_attempt_at=ctx.window.now,
            exchange_since=since or ctx.window.mail_since,
        )
        return load_cursors(session=session, mailbox_id=mailbox_id)


def _forget_folders(ctx: SyncContext, mailbox_id: str, stale: list[str]) -> None:
    with session_scope(ctx.engine) as session:
        for folder_id in stale:
            drop_folder(session=session, mailbox_id=mailbox_id, folder_id=folder_id)


def _finish(ctx: SyncContext, outcome: MailboxOutcome) -> None:
    values: dict[str, object] = {"syncing_since": None, "last_error": outcome.error}
    if outcome.status == "ok":
        values["last_success_at"] = ctx.window.now
    with session_scope(ctx.engine) as session:
        set_status(session=session, mailbox_id=outcome.mailbox_id, status=outcome.status, **values)
        add_ingested(
            session=session,
            mailbox_id=outcome.mailbox_id,
            items=outcome.counters.added + outcome.counters.updated,
        )
        if outcome.status == "consent_missing":
            # Refused: what this mailbox contributed leaves now; CRM data takes over.
            purge_exchange_data(
                session=session,
                mailbox_ids=[outcome.mailbox_id],
                at=ctx.window.now,
                command="run",
                reason=outcome.error or "access denied",
            )


def _first_error(results: list[BaseException | None]) -> BaseException | None:
    errors = [result for result in results if isinstance(result, BaseException)]
    for error in errors:
        if isinstance(error, asyncio.CancelledError):
            raise error
    # A refusal says more than a throttle: it decides the tenant's fallback.
    errors.sort(key=lambda e: (not isinstance(e, AccessDenied), not isinstance(e, GraphSyncError)))
    return errors[0] if errors else None


async def _run_folders(ctx: SyncContext, mailbox_id: str, counters: SyncCounters) -> None:
    cursors = await ctx.in_thread(_begin, ctx, mailbox_id)
    folders = await folders_to_sync(ctx, mailbox_id, counters)
    stale = [f for f in cursors if f != CALENDAR and f not in folders]
    if stale:
        await ctx.in_thread(_forget_folders, ctx, mailbox_id, stale)
    jobs = [FolderJob(mailbox_id, folder) for folder in (*folders, CALENDAR)]
    results = await asyncio.gather(
        *(sync_folder(ctx, job, cursors.get(job.folder_id), counters) for job in jobs),
        return_exceptions=True,
    )
    error = _first_error(list(results))
    if error is not None:
        raise error


def _status_for(error: BaseException) -> str:
    if isinstance(error, SyncInterrupted):
        return "interrupted"
    if isinstance(error, AccessDenied):
        return "consent_missing"
    if isinstance(error, TransientError):
        return "throttled"
    return "failed"


async def sync_mailbox(ctx: SyncContext, mailbox_id: str) -> MailboxOutcome:
    started = time.perf_counter()
    outcome = MailboxOutcome(mailbox_id, "ok")
    try:
        await _run_folders(ctx, mailbox_id, outcome.counters)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # noqa: BLE001 - one mailbox never stops the others
        outcome.status = _status_for(error)
        outcome.error = f"{type(error).__name__}: {error}"[:500]
        if not isinstance(error, GraphSyncError):
            log.exception("mailbox sync failed unexpectedly", mailbox=mailbox_id)
    outcome.seconds = time.perf_counter() - started
    await ctx.in_thread(_finish, ctx, outcome)
    counters = outcome.counters
    log.info(
        "mailbox round",
        mailbox=mailbox_id,
        status=outcome.status,
        pages=counters.pages,
        items=counters.items,
        added=counters.added,
        removed=counters.removed,
        malformed=counters.malformed,
        retries=counters.retries,
        seconds=round(outcome.seconds, 3),
    )
    return outcome
