"""What one sync round shares: the client, the store, limits, clock and counters."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

import structlog
from sqlalchemy.engine import Engine

from graph_sync.client import GraphClient
from graph_sync.normalise import Normaliser
from graph_sync.retry import RetryPolicy, Sleep, call_with_retry
from storage.sync_store import PageCounts, PageWrite, commit_page

log = structlog.stdlib.get_logger("rapport.graph_sync")
T = TypeVar("T")


class Paged(Protocol):
    """A page of a Graph listing: `@odata.nextLink` while more pages follow."""

    @property
    def next_link(self) -> str | None: ...


P = TypeVar("P", bound=Paged)


@dataclass
class SyncCounters:
    requests: int = 0
    pages: int = 0
    items: int = 0
    malformed: int = 0
    retries: int = 0
    throttled: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    rebaselines: int = 0
    # Stored links for another host than the configured Graph, re-baselined instead
    # of followed (graph_sync.host_pin); also counted in `rebaselines`.
    foreign_links: int = 0

    def add_page(self, counts: PageCounts) -> None:
        self.pages += 1
        self.added += counts.added
        self.updated += counts.updated
        self.removed += counts.removed


@dataclass(frozen=True)
class SyncWindow:
    now: datetime
    mail_since: datetime
    calendar_start: datetime
    calendar_end: datetime


@dataclass
class SyncContext:
    client: GraphClient
    engine: Engine
    normaliser: Normaliser
    window: SyncWindow
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = asyncio.sleep
    mailbox_concurrency: int = 4
    excluded_folders: tuple[str, ...] = ("deleteditems", "junkemail", "drafts", "outbox")
    # Set on shutdown: folder loops stop before their next page, after
    # committing the page in hand with its cursor.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # SQLite allows one writer at a time: serialise page commits rather than
    # have threads queue on the database lock.
    _write_lock: threading.Lock = field(default_factory=threading.Lock)
    _mailbox_gates: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    def gate(self, mailbox_id: str) -> asyncio.Semaphore:
        """At most `mailbox_concurrency` requests in flight per mailbox (Outlook allows 4)."""
        if mailbox_id not in self._mailbox_gates:
            self._mailbox_gates[mailbox_id] = asyncio.Semaphore(self.mailbox_concurrency)
        return self._mailbox_gates[mailbox_id]

    async def fetch(
        self,
        mailbox_id: str,
        counters: SyncCounters,
        build: Callable[[], Any],
        decode: Callable[[bytes], T],
    ) -> T:
        """One Graph request (built afresh per attempt), decoded, under the retry policy."""

        async def attempt() -> T:
            async with self.gate(mailbox_id):
                counters.requests += 1
                body = await self.client.send(build())
            return decode(body)

        def on_retry(error: BaseException) -> None:
            counters.retries += 1
            counters.throttled += getattr(error, "status", None) == 429
            log.info("retrying a Graph request", mailbox=mailbox_id, error=str(error))

        return await call_with_retry(self.policy, attempt, sleep=self.sleep, on_retry=on_retry)

    async def pages(
        self,
        mailbox_id: str,
        counters: SyncCounters,
        first: Callable[[], Any],
        following: Callable[[str], Any],
        decode: Callable[[bytes], P],
    ) -> AsyncIterator[P]:
        """Every page of a listing, each one `fetch`: `first` builds the first request,
        `following(link)` the request for a next link, until a page has none."""
        build = first
        while True:
            page = await self.fetch(mailbox_id, counters, build, decode)
            yield page
            if page.next_link is None:
                return
            build = functools.partial(following, page.next_link)

    async def commit(self, page: PageWrite) -> PageCounts:
        return await asyncio.to_thread(self._commit_locked, page)

    def _commit_locked(self, page: PageWrite) -> PageCounts:
        if self.engine.dialect.name != "sqlite":
            return commit_page(self.engine, page)
        with self._write_lock:
            return commit_page(self.engine, page)

    async def in_thread(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(self._locked_call, function, *args, **kwargs)

    def _locked_call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._write_lock:
            return function(*args, **kwargs)
