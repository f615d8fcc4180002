"""The worker's jobs: sync round, scoring, retention, heartbeat, watchdog.

They call what `rapport run --once` calls: the Exchange round of a tick
(`worker.run.tick.sync_exchange`, with this replica's lease claim and the
shutdown event) and the CRM path with scoring and write-back
(`worker.run.tick.run_once`). Scoring runs after every sync round and on its
own interval, one replica at a time; on each replica one run at a time.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

import compliance
from graph_sync.mailbox import MailboxOutcome
from storage import lease_store
from storage.engine import session_scope
from worker.log import get_logger
from worker.run.book_cache import KeptBook
from worker.run.dataverse import after_scoring, before_scoring
from worker.run.exchange import ExchangeSummary
from worker.run.tick import run_once, sync_exchange
from worker.service.leases import ReplicaLeases, singleton
from worker.service.metrics import ServiceMetrics
from worker.service.scheduler import Clock, round_number
from worker.settings import Settings

log = get_logger("rapport.worker")
RETENTION_EVERY = timedelta(hours=20)  # daily, with room for a late run


@dataclass
class Jobs:
    engine: Engine
    settings: Settings
    clock: Clock
    leases: ReplicaLeases
    metrics: ServiceMetrics
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _scoring: asyncio.Lock = field(default_factory=asyncio.Lock)
    _scoring_wanted: datetime | None = None
    scoring_task: asyncio.Task[None] | None = None
    # The book kept from one scoring run to the next (RAPPORT_KEEP_BOOK, worker.run.book_cache).
    book: KeptBook | None = None

    def __post_init__(self) -> None:
        if self.settings.keep_book:
            self.book = KeptBook()

    # --- sync ---

    async def sync(self) -> None:
        """One round: passes of the Exchange round until no mailbox of the slot is left."""
        if self.stopping.is_set():
            return
        started_at = self.clock.now()
        round_ = round_number(started_at, self.settings.sync_interval_seconds)
        changed = False
        with structlog.contextvars.bound_contextvars(round=round_):  # every event names it
            for pass_ in itertools.count(1):
                outcomes = await self._sync_pass(round_, pass_)
                changed |= any(
                    m.counters.added + m.counters.updated + m.counters.removed for m in outcomes
                )
                if not self._another_pass(round_, outcomes):
                    break
        # Nothing new from Exchange: a scoring that started in this slot covers the CRM side.
        slot_start = datetime.fromtimestamp(
            round_ * self.settings.sync_interval_seconds, started_at.tzinfo
        )
        self.request_scoring(self.clock.now() if changed else slot_start)

    def _another_pass(self, round_: int, outcomes: list[MailboxOutcome]) -> bool:
        now_round = round_number(self.clock.now(), self.settings.sync_interval_seconds)
        return (
            bool(outcomes)
            and self.leases.unclaimed > 0
            and now_round == round_
            and not self.stopping.is_set()
        )

    async def _sync_pass(self, round_: int, pass_: int) -> list[MailboxOutcome]:
        now = self.clock.now()
        started = time.perf_counter()
        self.leases.unclaimed = 0
        exchange: ExchangeSummary | None = None
        outcomes: list[MailboxOutcome] = []
        try:
            exchange = await sync_exchange(
                self.engine,
                self.settings,
                now=now,
                claim=self.leases.claim_for(round_),
                stopping=self.stopping,
            )
            outcomes = exchange.tenant.mailboxes if exchange.tenant else []
        finally:
            await self.leases.release(round_, {m.mailbox_id: m.status for m in outcomes})
        seconds = time.perf_counter() - started
        self.metrics.observe_round(exchange, seconds, self.clock.now())
        self._log_round(round_, pass_, exchange, seconds)
        return outcomes

    def _log_round(
        self, round_: int, pass_: int, exchange: ExchangeSummary, seconds: float
    ) -> None:
        fields: dict[str, object] = {
            "round": round_,
            "pass": pass_,
            "exchange": exchange.state,
            "seconds": round(seconds, 3),
        }
        if exchange.tenant is not None:
            mailboxes = exchange.tenant.mailboxes
            fields.update(
                tenant=exchange.tenant.tenant_id,
                mailboxes=len(mailboxes),
                by_status=exchange.by_status,
                items=sum(m.counters.items for m in mailboxes),
                ingested=sum(m.counters.added + m.counters.updated for m in mailboxes),
                pages=sum(m.counters.pages for m in mailboxes),
                retries=sum(m.counters.retries for m in mailboxes),
                throttled=sum(m.counters.throttled for m in mailboxes),
            )
        log.info("sync round", **fields)

    # --- scoring ---

    def request_scoring(self, after: datetime) -> None:
        """Score data committed before `after`, unless a scoring that started later does."""
        if self.stopping.is_set():
            return
        self._scoring_wanted = max(after, self._scoring_wanted or after)
        if self.scoring_task is None or self.scoring_task.done():
            self.scoring_task = asyncio.get_running_loop().create_task(self._drain_scoring())

    async def _drain_scoring(self) -> None:
        while self._scoring_wanted is not None and not self.stopping.is_set():
            after, self._scoring_wanted = self._scoring_wanted, None
            try:
                await self.score(after=after, wait_seconds=self.settings.sync_interval_seconds)
            except Exception:  # noqa: BLE001 - the next round or the interval job tries again
                log.exception("scoring failed")

    async def scheduled_scoring(self) -> None:
        interval = timedelta(seconds=self.settings.scoring_interval_seconds)
        await self.score(after=self.clock.now() - interval)

    def _last_scoring_start(self) -> datetime | None:
        with session_scope(self.engine) as session:
            return lease_store.last_job_run(session=session, job="scoring")[0]

    async def _covered(self, after: datetime) -> bool:
        started = await asyncio.to_thread(self._last_scoring_start)
        return started is not None and started >= after

    async def score(self, *, after: datetime, wait_seconds: float = 0.0) -> None:
        async def give_up() -> bool:
            return self.stopping.is_set() or await self._covered(after)

        async with self._scoring:
            async with singleton(
                self.engine, "scoring", self.clock, wait_seconds=wait_seconds, give_up=give_up
            ) as held:
                if not held or await give_up():
                    self.metrics.scoring_runs.labels(outcome="skipped").inc()
                    return
                await self._score_now()

    def _job_mark(self, job: str, *, done: bool) -> None:
        now, replica = self.clock.now(), self.leases.replica
        with session_scope(self.engine) as session:
            if done:
                lease_store.job_completed(session=session, job=job, now=now)
            else:
                lease_store.job_started(session=session, job=job, replica=replica, now=now)

    async def _score_now(self) -> None:
        await asyncio.to_thread(self._job_mark, "scoring", done=False)
        started = time.perf_counter()
        # RAPPORT_CRM=dataverse: pull before scoring, push after (docs/dataverse.md).
        dataverse = await before_scoring(self.engine, self.settings, now=self.clock.now())
        self.metrics.observe_dataverse(dataverse)
        try:
            summary = await asyncio.to_thread(
                run_once,
                self.engine,
                now=self.clock.now(),
                batch_size=self.settings.writeback_batch_size,
                retention_days=self.settings.retention_interaction_days,
                processes=self.settings.scoring_processes,
                excluded_users=self.settings.excluded_users,
                regrade_every=self.settings.regrade_every,
                book=self.book,
            )
        except Exception:
            self.metrics.scoring_runs.labels(outcome="failed").inc()
            raise
        summary.dataverse = await after_scoring(
            self.engine, self.settings, dataverse, now=self.clock.now()
        )
        self.metrics.observe_dataverse(summary.dataverse, parts=("push", "push_requests"))
        seconds = time.perf_counter() - started
        await asyncio.to_thread(self._job_mark, "scoring", done=True)
        self.metrics.observe_scoring(summary, seconds)
        written = summary.writeback
        log.info(
            "scoring run",
            scoring=summary.scoring,  # skipped, changed (records touched) or regrade
            regrade_reason=summary.regrade_reason,
            records=summary.records_scored,
            interactions=summary.interactions,
            crm_activities=summary.ingest.activities,
            crm_activities_unchanged=summary.ingest.unchanged,
            by_state=summary.by_state,
            records_updated=written.records_updated,
            unchanged=written.unchanged,
            dataverse=summary.dataverse,
            seconds=round(seconds, 3),
        )

    # --- retention, heartbeat, watchdog ---

    def _last_retention(self) -> datetime | None:
        with session_scope(self.engine) as session:
            return lease_store.last_job_run(session=session, job="retention")[1]

    async def retention(self) -> None:
        async with singleton(self.engine, "retention", self.clock) as held:
            last = await asyncio.to_thread(self._last_retention) if held else None
            now = self.clock.now()
            if not held or (last is not None and now - last < RETENTION_EVERY):
                return  # another replica runs it, or ran it today
            await asyncio.to_thread(self._job_mark, "retention", done=False)
            report = await asyncio.to_thread(
                compliance.purge_retention,
                self.engine,
                now=now,
                interaction_days=self.settings.retention_interaction_days,
                snapshot_daily_days=self.settings.retention_snapshot_days,
                command="worker retention",
            )
            await asyncio.to_thread(self._job_mark, "retention", done=True)
        for table, count in report.counts().items():
            self.metrics.retention.labels(table=table).inc(count)
        log.info(
            "retention run",
            deleted=report.counts(),
            interaction_cutoff=report.interaction_cutoff.isoformat(),
        )

    async def news(self) -> None:
        """What's New: fetch RAPPORT_NEWS_FEEDS, one replica at a time (worker/run/news.py)."""
        from news.fetcher import FeedConfigError
        from worker.run.news import configured_feeds, refresh_news

        try:
            sources = configured_feeds()
        except FeedConfigError as refusal:  # this job's problem only; the others run on
            log.warning("news not fetched", reason=str(refusal))
            return
        if not sources:
            return
        async with singleton(self.engine, "news", self.clock) as held:
            if held:
                summary = await asyncio.to_thread(
                    refresh_news, self.engine, sources, now=self.clock.now()
                )
                log.info("news fetched", added=summary.items_added, failed=sorted(summary.failed))

    async def heartbeat(self) -> None:
        try:
            await self.leases.beat()
        except sa_exc.DBAPIError as error:
            # Leases lapse after their TTL if this goes on; other replicas then take over.
            log.warning("heartbeat failed", error=type(error.orig).__name__)

    def _reset_stuck(self) -> list[tuple[str, str]]:
        with session_scope(self.engine) as session:
            return lease_store.reset_stuck_mailboxes(
                session=session,
                now=self.clock.now(),
                ttl=self.leases.ttl,
                limit=timedelta(seconds=self.settings.stuck_sync_seconds),
            )

    async def watchdog(self) -> None:
        for mailbox_id, reason in await asyncio.to_thread(self._reset_stuck):
            self.metrics.watchdog.inc()
            log.warning("mailbox reset by the watchdog", mailbox=mailbox_id, reason=reason)
