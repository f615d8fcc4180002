"""One tick of the pipeline: Exchange (where allowed), CRM activities, score, write back.

`run_tick` is the whole tick: the Exchange round (consent, data residency,
delta sync) and then `run_once`, the CRM-data path plus scoring and
write-back. `rapport run --once`, `rapport demo` and the scheduler call
them; both take the clock as an argument so runs are reproducible.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from compliance.retention import INTERACTION_DAYS
from graph_sync.tenant import Claim
from scoring import ScoringRun
from scoring.model import Interaction, RecordHealth, RecordScope
from storage.crm_ingest import CrmIngestReport, ingest_crm_activities
from storage.crm_records import CrmSnapshot, load_crm_snapshot
from storage.engine import session_scope
from storage.writeback import WritebackCounts, write_back
from worker.exchange import ExchangeSummary, exchange_round
from worker.interactions import load_interactions
from worker.introducers import IntroducerSummary, refresh_introducers
from worker.results import to_result
from worker.ri_settings import current_settings, scoring_settings
from worker.scopes import build_scopes, display_names
from worker.scoring_processes import PartSummary, merged, run_parts, split, usable_processes
from worker.settings import Settings

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int | None], None]  # stage, done, total


@dataclass
class RunSummary:
    now: datetime
    ingest: CrmIngestReport
    interactions: int = 0
    records_scored: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    writeback: WritebackCounts = field(default_factory=WritebackCounts)
    seconds: dict[str, float] = field(default_factory=dict)
    exchange: ExchangeSummary | None = None
    introducers: IntroducerSummary | None = None


def _counted(
    results: Iterator[RecordHealth], part: PartSummary, progress: Progress | None, total: int
) -> Iterator[RecordHealth]:
    for health in results:
        part.records_scored += 1
        state = "none" if health.state is None else health.state.name.lower()
        part.by_state[state] = part.by_state.get(state, 0) + 1
        if progress and part.records_scored % 1000 == 0:
            progress("score", part.records_scored, total)
        yield health


@dataclass(frozen=True)
class ScorePart:
    """Score one share of the records and write it back (see worker.scoring_processes)."""

    run: ScoringRun
    scopes: list[RecordScope]
    show_health: bool
    now: datetime
    batch_size: int
    progress: Progress | None = None
    total: int = 0  # records in the whole run, for progress

    def __call__(self, engine: Engine) -> PartSummary:
        part = PartSummary()
        scored = _counted(self.run.score(self.scopes), part, self.progress, self.total)
        results = (to_result(health, show_health=self.show_health) for health in scored)
        part.writeback = write_back(engine, results, now=self.now, batch_size=self.batch_size)
        return part


def score_and_write(
    engine: Engine,
    crm: CrmSnapshot,
    interactions: list[Interaction],
    *,
    now: datetime,
    batch_size: int,
    processes: int,
    progress: Progress | None,
) -> PartSummary:
    values = current_settings(engine)
    run = ScoringRun(interactions, scoring_settings(values), now, display_names(crm))
    scopes = list(build_scopes(crm))
    shares = split(scopes, usable_processes(engine, processes))
    parts = [
        ScorePart(run, share, bool(values["switch.show_health"]), now, batch_size)
        for share in shares
    ]
    # Progress is drawn by this process, which scores the first share.
    parts[0] = replace(parts[0], progress=progress, total=len(shares[0]))
    return merged(run_parts(engine, parts))


def run_once(
    engine: Engine,
    *,
    now: datetime,
    batch_size: int = 2000,
    progress: Progress | None = None,
    retention_days: int = INTERACTION_DAYS,
    processes: int = 1,
) -> RunSummary:
    """CRM path, score, write back. CRM activities older than `retention_days` are not
    taken in, so a retention purge stays done while the CRM keeps old activities.
    `processes` > 1 (or 0: one per CPU) scores in forked processes on PostgreSQL."""
    clock = time.perf_counter
    started = clock()
    not_before = now - timedelta(days=retention_days)
    summary = RunSummary(now=now, ingest=ingest_crm_activities(engine, not_before=not_before))
    summary.seconds["ingest"] = clock() - started
    for problem in summary.ingest.problems:
        log.warning("skipped CRM row: %s", problem)

    started = clock()
    with session_scope(engine) as session:
        crm = load_crm_snapshot(session=session)
    interactions = load_interactions(engine)
    summary.interactions = len(interactions)
    summary.seconds["load"] = clock() - started

    started = clock()
    scored = score_and_write(
        engine, crm, interactions, now=now, batch_size=batch_size, processes=processes,
        progress=progress,
    )  # fmt: skip
    summary.records_scored, summary.by_state = scored.records_scored, scored.by_state
    summary.writeback = scored.writeback
    summary.seconds["score_and_write"] = clock() - started
    started = clock()
    summary.introducers = refresh_introducers(engine, now=now, interactions=interactions)
    summary.seconds["introducers"] = clock() - started
    return summary


async def sync_exchange(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    progress: Progress | None = None,
    claim: Claim | None = None,
    stopping: asyncio.Event | None = None,
) -> ExchangeSummary:
    """The Exchange half of a tick, honouring the admin's Exchange switch.

    `claim` filters mailboxes to this replica's leases; `stopping` ends the
    round between pages on shutdown. The service calls this directly so that
    scoring can run on one replica only.
    """
    values = await asyncio.to_thread(current_settings, engine)
    return await exchange_round(
        engine, settings, now, enabled=bool(values["switch.exchange_data_source"]),
        claim=claim, stopping=stopping, progress=progress,
    )  # fmt: skip


async def run_tick(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    progress: Progress | None = None,
    claim: Claim | None = None,
    stopping: asyncio.Event | None = None,
) -> RunSummary:
    """The whole tick: `sync_exchange`, then `run_once` (CRM path, score, write back)."""
    started = time.perf_counter()
    exchange = await sync_exchange(
        engine, settings, now=now, progress=progress, claim=claim, stopping=stopping
    )
    exchange_seconds = time.perf_counter() - started
    summary = await asyncio.to_thread(
        run_once, engine, now=now, batch_size=settings.writeback_batch_size, progress=progress,
        retention_days=settings.retention_interaction_days,
        processes=settings.scoring_processes,
    )  # fmt: skip
    summary.exchange = exchange
    summary.seconds = {"exchange": exchange_seconds, **summary.seconds}
    return summary
