"""Score every record and write the results back: in this process, or in shares.

The book is read once as columns (worker.run.interaction_columns, in bounded
chunks: no Python object per interaction outlives its chunk) and scored by the
columnar core (scoring.columnar.ColumnarRun), whose results are those of the
reference, scoring.ScoringRun (tests/scoring/test_columnar_*.py). One process
scores every record. Several (PostgreSQL): the records are split into shares of
linked records (worker.run.scoring_shares) and each forked process scores and
writes back its share's records with the same run over the same columns
(their index built once, before the fork), inherited from the parent by the
fork and never copied (numpy arrays are only read), so everything after the
read and the index runs in parallel. Each process also ranks its
share's introducers from the columns (worker.run.introducers).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from scoring.columnar import ColumnarRun
from scoring.columnar.indexed_book import IndexedBook
from scoring.model import RecordHealth, RecordRef, RecordScope, RecordType
from storage.crm_records import CrmSnapshot
from storage.engine import session_scope
from storage.introducer_store import IntroducerRow
from storage.writeback import record_closes, write_back
from worker.admin_settings import scoring_settings
from worker.run.interaction_columns import read_columns
from worker.run.introducers import IntroducerRanking
from worker.run.malloc_tuning import blocks_from_the_heap
from worker.run.results import to_results
from worker.run.scopes import build_scopes, display_names
from worker.run.scoring_processes import PartSummary, merged, run_parts
from worker.run.scoring_shares import Share, plan_shares

Progress = Callable[[str, int, int | None], None]  # stage, done, total
BookRead = Callable[[Engine], IndexedBook]  # the whole book, from wherever it is kept


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
class ScoreShare:
    """Score some records with the book's run and write them back; then rank the
    introducers of their people when `introducers` is set. `share`: the records
    are one share of the book (its refs bound the introducers ranked).

    The run (its index of the book) is built once, before any fork: every share
    scores with it, a forked one from the parent's copy, so that no process
    indexes the whole book again for its share."""

    scopes: list[RecordScope]
    run: ColumnarRun
    show_health: bool
    now: datetime
    batch_size: int
    progress: Progress | None = None
    introducers: IntroducerRanking | None = None
    share: Share | None = None
    # Only these records' stored state is read for the write-back (a tick's few).
    keyed_state: bool = False

    def __call__(self, engine: Engine) -> PartSummary:
        # The run makes and drops arrays of a few MB for each group of records it scores
        # (their visits' figures): served from the heap and kept there for the next
        # group's, rather than mapped and faulted in afresh each time. The ranking comes
        # after the heap's free pages are given back, its arrays mapped on their own:
        # ranked within the heap, the first run's RSS grew from 359 to 374 MiB over the
        # ranking at 1M (its peak).
        with blocks_from_the_heap():
            part = self._scored_and_written(engine)
        if self.introducers is not None:
            part.introducers = self._ranked(self.introducers)
        return part

    def _ranked(self, introducers: IntroducerRanking) -> list[IntroducerRow]:
        ranking = introducers if self.share is None else introducers.within(self.share.refs)
        return ranking.columnar_rows(self.run.columns, self.run.index, self.run.tables)

    def _scored_and_written(self, engine: Engine) -> PartSummary:
        columns = self.run.columns
        part = PartSummary(interactions=len(columns))
        scored = _counted(self.run.score(self.scopes), part, self.progress, len(self.scopes))
        results = to_results(scored, show_health=self.show_health)
        records = (
            [(scope.record.type.value, scope.record.id) for scope in self.scopes]
            if self.keyed_state
            else None
        )
        part.writeback = write_back(
            engine, results, now=self.now, batch_size=self.batch_size, records=records
        )
        part.written_at = time.perf_counter()
        return part


# Reading by refs joins them with interaction_party in the database. When they name
# this share of the book's people or more, reading every row costs less: at 1M, the
# 1 % tick's refs (70 % of the people, 85 % of the interactions) took 19-23 s to read,
# every row 15-17 s (load 10). Scores do not depend on which extra rows are read.
KEYED_READ_SHARE = 0.5
# The write-back reads the stored state of only the records scored when they are at
# most this share of the book's (one index probe per record and table, against one
# scan of each table): at 1M a 1 % tick's 9,308 of 49,809 records.
KEYED_STATE_SHARE = 0.5
PEOPLE = frozenset({RecordType.CONTACT, RecordType.LEAD})


def _keyed_read(needed: set[RecordRef], crm: CrmSnapshot) -> set[RecordRef] | None:
    """The refs to read the interactions of, or None: read them all."""
    people = len(crm.contacts) + len(crm.open_leads)
    named = sum(1 for ref in needed if ref.type in PEOPLE)
    return None if people and named >= KEYED_READ_SHARE * people else needed


def score_and_write(
    engine: Engine,
    crm: CrmSnapshot,
    *,
    now: datetime,
    batch_size: int,
    processes: int,
    progress: Progress | None,
    admin: Mapping[str, Any],
    introducers: IntroducerRanking | None = None,
    records: frozenset[RecordRef] | None = None,
    scopes: list[RecordScope] | None = None,
    read_book: BookRead | None = None,
    stages: dict[str, float] | None = None,
) -> PartSummary:
    """Score and write back every record under the run's admin settings; the summary
    carries the introducers ranked under `introducers`, if given.

    The book is read from the store as columns, in bounded chunks.

    `records`: score and write back only these records (None: the whole book).
    This is the interface of incremental ticks: the caller passes the closure it
    wants re-scored, roll-ups included (the accounts and deals whose people
    changed); a record is scored exactly as a whole-book run would score it,
    from its own people's interactions, and only the interactions reaching these
    records and their people are read from the store (every row, when they
    are most of the book's people: `KEYED_READ_SHARE`). Refs that are not
    a scored record of `crm` (a closed deal, a system user) are ignored.
    Introducers are then ranked for the contacts and open leads among `records`
    only.

    `scopes`: every record's scope, when the caller has built them from `crm`
    already (a tick does, to find the records its changes touch).

    `read_book`: where the whole book comes from instead of the store (the service's
    book kept between ticks, worker.run.book_cache): every row, patched, costs less
    than reading those of `records`; the run's index kept with it is patched too.
    `stages`: gets the seconds of the read and of the run's index ("read", "index").
    """
    scopes = list(build_scopes(crm)) if scopes is None else scopes
    needed: set[RecordRef] | None = None
    keyed_state = False
    if records is not None:
        book_records = len(scopes)
        scopes = [scope for scope in scopes if scope.record in records]
        keyed_state = len(scopes) <= KEYED_STATE_SHARE * book_records
        if introducers is not None:
            introducers = introducers.within(records)
        if read_book is None:
            # Only what reaches these records and their people is read, unless that is
            # most of the book (then every row is read: same scores, less work). A kept
            # book is patched whole instead (read_book).
            needed = _keyed_read(
                {ref for scope in scopes for ref in (scope.record, *scope.people)}, crm
            )
    started = time.perf_counter()
    book = (
        IndexedBook(read_columns(engine, refs=needed)) if read_book is None else read_book(engine)
    )
    read_at = time.perf_counter()
    run = ColumnarRun(book.columns, scoring_settings(admin), now, display_names(crm), book.built())
    if stages is not None:
        stages["read"], stages["index"] = read_at - started, time.perf_counter() - read_at
    job = ScoreShare(
        scopes,
        run,
        bool(admin["switch.show_health"]),
        now,
        batch_size,
        progress=progress,
        introducers=introducers,
        keyed_state=keyed_state,
    )
    if processes <= 1:
        summary = job(engine)
    else:
        # Progress is drawn by this process, which scores the first share.
        parts = [
            replace(
                job, scopes=share.scopes, share=share, progress=progress if index == 0 else None
            )
            for index, share in enumerate(plan_shares(scopes, processes))
        ]
        summary = merged(run_parts(engine, parts))
    # Once, after every share has written its health: shares ending together would
    # each find the same closed deal unrecorded and both insert its close.
    with session_scope(engine) as session:
        summary.writeback.snapshots_written += record_closes(session=session, day=now.date())
    return summary
