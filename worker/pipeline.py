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
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from graph_sync.tenant import Claim
from scoring import score_records
from scoring.model import Interaction, RecordHealth
from storage.crm_ingest import CrmIngestReport, ingest_crm_activities
from storage.crm_records import iter_interaction_rows, iter_party_rows, load_crm_snapshot
from storage.engine import session_scope
from storage.writeback import WritebackCounts, write_back
from worker.exchange import ExchangeSummary, exchange_round
from worker.interactions import PartyInterner, group_parties, to_interactions
from worker.results import to_result
from worker.ri_settings import current_settings, scoring_settings
from worker.scopes import build_scopes, display_names
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


def load_interactions(engine: Engine) -> list[Interaction]:
    interner = PartyInterner()
    with session_scope(engine) as session:
        sides = group_parties(iter_party_rows(session=session), interner)
        return to_interactions(iter_interaction_rows(session=session), sides, interner)


def _counted(
    results: Iterator[RecordHealth], summary: RunSummary, progress: Progress | None, total: int
) -> Iterator[RecordHealth]:
    for health in results:
        summary.records_scored += 1
        state = "none" if health.state is None else health.state.name.lower()
        summary.by_state[state] = summary.by_state.get(state, 0) + 1
        if progress and summary.records_scored % 1000 == 0:
            progress("score", summary.records_scored, total)
        yield health


def run_once(
    engine: Engine, *, now: datetime, batch_size: int = 2000, progress: Progress | None = None
) -> RunSummary:
    clock = time.perf_counter
    started = clock()
    summary = RunSummary(now=now, ingest=ingest_crm_activities(engine))
    summary.seconds["ingest"] = clock() - started
    for problem in summary.ingest.problems:
        log.warning("skipped CRM row: %s", problem)

    started = clock()
    values = current_settings(engine)
    with session_scope(engine) as session:
        crm = load_crm_snapshot(session=session)
    interactions = load_interactions(engine)
    summary.interactions = len(interactions)
    summary.seconds["load"] = clock() - started

    started = clock()
    scopes = list(build_scopes(crm))
    scored = score_records(scopes, interactions, scoring_settings(values), now, display_names(crm))
    show = bool(values["switch.show_health"])
    results = (
        to_result(health, show_health=show)
        for health in _counted(scored, summary, progress, len(scopes))
    )
    summary.writeback = write_back(engine, results, now=now, batch_size=batch_size)
    summary.seconds["score_and_write"] = clock() - started
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
        run_once, engine, now=now, batch_size=settings.writeback_batch_size, progress=progress
    )
    summary.exchange = exchange
    summary.seconds = {"exchange": exchange_seconds, **summary.seconds}
    return summary
