"""The service's book kept between ticks is the store's book (worker.run.book_cache).

The incremental ticks' property test again, with the book kept across the
ticks (as `rapport worker` keeps it) and ticks of another replica, which
keeps none, in between: after every tick the kept book must hold exactly
what a read of the whole store gives, its run's index (patched with it)
what indexing that book afresh gives, and a full regrade at the end must
change nothing that was written. On PostgreSQL the book is patched with
the rows written since; on SQLite (no row versions) it is read whole.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from compliance.erase import erase_subject
from scoring.columnar.columns import InteractionColumns
from scoring.columnar.indexed_book import IndexedBook, book_setup
from scoring.model import Interaction
from tests import factories as f
from tests.worker.run.test_incremental_ticks import (
    CUSTOMERS,
    EVERY,
    NOW,
    USERS,
    _apply,
    _book,
    _execute,
    _stored,
    add,
    behind,
    delete,
    move_contact,
    person,
    ticks_settings,
    update,
)
from worker.run.book_cache import KeptBook, _hashes
from worker.run.interaction_columns import read_columns
from worker.run.tick import RunSummary, run_once


def _interactions(columns: InteractionColumns | None) -> list[Interaction]:
    assert columns is not None
    return columns.interactions(np.arange(len(columns)))


def _tick(engine: Engine, kept: KeptBook, **options: Any) -> RunSummary:
    summary = run_once(engine, now=NOW, regrade_every=EVERY, book=kept, **options)
    # A tick that scores nothing reads nothing: the next read brings the book up to date.
    if summary.book is not None and kept.book is not None:
        assert _interactions(kept.book.columns) == _interactions(read_columns(engine))
        assert kept.book.setup is not None  # the tick's run indexed it (or patched the index)
        _same_setup(kept.book)
        if kept.book.key_hashes is not None:  # carried with their rows
            assert np.array_equal(kept.book.key_hashes, _hashes(kept.book.columns.keys))
    return summary


def _same_setup(book: IndexedBook) -> None:
    """The kept index is what indexing the kept columns afresh gives, array for array
    (but for the records the run coded after it was built: none has an entry)."""
    assert book.setup is not None
    fresh = book_setup(book.columns)
    for part in ("tables", "index"):
        kept_part, fresh_part = getattr(book.setup, part), getattr(fresh, part)
        for name, value in vars(fresh_part).items():
            kept_value = getattr(kept_part, name)
            if name.endswith("_ptr") and part == "index":
                kept_value = np.pad(kept_value, (0, len(value) - len(kept_value)), mode="edge")
            if isinstance(value, np.ndarray):
                assert np.array_equal(kept_value, value), name
            else:
                assert kept_value == value, name
    assert np.array_equal(book.setup.tracked, fresh.tracked)


def _read_as(engine: Engine, summary: RunSummary, postgres: str) -> None:
    """PostgreSQL patches the kept book (`postgres`: how), SQLite reads it whole."""
    assert summary.book is not None
    if engine.dialect.name == "postgresql":
        assert summary.book.startswith(postgres)
    else:
        assert summary.book == "whole"


@pytest.fixture
def kept(engine: Engine) -> KeptBook:
    _book(engine)
    book = KeptBook()
    first = _tick(engine, book)
    assert (first.scoring, first.book) == ("regrade", "whole")
    return book


steps = st.lists(
    st.one_of(
        add, update, delete, behind, move_contact, person, st.just(("tick",)), st.just(("other",))
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.timeout(300)
@ticks_settings
@given(changes=steps)
def test_ticks_from_the_kept_book_end_where_a_full_regrade_would(
    engine: Engine, kept: KeptBook, changes: list[tuple[Any, ...]]
) -> None:
    for step in changes:
        if step[0] == "tick":
            _tick(engine, kept)
        elif step[0] == "other":  # another replica's tick: it keeps no book
            run_once(engine, now=NOW, regrade_every=EVERY)
        else:
            _apply(engine, step)
    _tick(engine, kept)
    incremental = _stored(engine)

    _execute(engine, sa.text("DELETE FROM crm_activity_digest"))
    full = run_once(engine, now=NOW, regrade_every=EVERY, full=True)

    assert full.scoring == "regrade"
    assert _stored(engine) == incremental


def test_a_tick_reads_only_the_rows_written_since(engine: Engine, kept: KeptBook) -> None:
    before = len(read_columns(engine))
    f.email(engine, sender=USERS[1], to=[CUSTOMERS[3]], at=f.days_ago(1))

    summary = _tick(engine, kept)  # the kept book is what a read of the store gives

    assert summary.scoring == "changed"
    assert summary.interactions == before + 1
    _read_as(engine, summary, "patched")


def test_rows_another_replica_wrote_reach_the_kept_book(engine: Engine, kept: KeptBook) -> None:
    f.email(engine, sender=USERS[0], to=[CUSTOMERS[1]], at=f.days_ago(2))
    other = run_once(engine, now=NOW, regrade_every=EVERY)  # keeps no book
    assert other.scoring == "changed"  # it took the change logs: they name nothing now
    f.meeting(engine, organizer=USERS[1], attendees={CUSTOMERS[2]: "accepted"}, start=NOW)

    summary = _tick(engine, kept)

    assert summary.scoring == "changed"
    _read_as(engine, summary, "patched")


def test_every_row_written_since_is_read_again(engine: Engine, kept: KeptBook) -> None:
    _execute(engine, sa.text("UPDATE interaction SET opens = opens + 3"))  # by hand: every row
    f.email(engine, sender=USERS[0], to=[CUSTOMERS[0]], at=f.days_ago(1))

    summary = _tick(engine, kept)  # the kept book is what a read of the store gives

    _read_as(engine, summary, f"patched: {summary.interactions:,} rows")


def test_a_row_deleted_since_reads_the_book_whole(engine: Engine, kept: KeptBook) -> None:
    with engine.connect() as connection:
        activity = connection.scalar(sa.text("SELECT min(id) FROM crm_activity"))
    _execute(engine, sa.text(f"DELETE FROM crm_activity_party WHERE activity_id = '{activity}'"))
    _execute(engine, sa.text(f"DELETE FROM crm_activity WHERE id = '{activity}'"))
    f.email(engine, sender=USERS[1], to=[CUSTOMERS[3]], at=f.days_ago(1))  # as many rows

    summary = _tick(engine, kept)  # the kept book is what a read of the store gives

    assert summary.ingest.counts.removed == 1
    assert summary.book == "whole"


def test_an_erasure_drops_the_kept_book(engine: Engine, kept: KeptBook) -> None:
    reader = kept.reader

    erase_subject(engine, CUSTOMERS[0], now=NOW, dry_run=False)
    run_once(engine, now=NOW, regrade_every=EVERY, book=kept)

    # Read again whole by a new reader: no code of the erased subject's is kept.
    assert kept.last_read == "whole"
    if engine.dialect.name == "postgresql":
        assert kept.reader is not reader
        assert _interactions(kept.columns) == _interactions(read_columns(engine))


class _ErasedAfterTheRead(KeptBook):
    """A book whose read is followed at once by an erasure, while the tick goes on."""

    def read(self, engine: Engine, **options: Any) -> IndexedBook:
        book = super().read(engine, **options)
        erase_subject(engine, CUSTOMERS[0], now=NOW, dry_run=False)
        return book


def test_an_erasure_while_a_tick_runs_drops_the_book_it_read(engine: Engine) -> None:
    _book(engine)
    kept = _ErasedAfterTheRead()

    run_once(engine, now=NOW, regrade_every=EVERY, book=kept)

    assert kept.columns is None and kept.reader is None


# PostgreSQL only: SQLite has one writer at a time, and there the book is read whole.
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_row_written_by_a_transaction_running_during_the_read_is_read_next(
    engine: Engine, kept: KeptBook
) -> None:
    writer = engine.connect()
    try:  # as an Exchange page would (the CRM pass leaves other sources' rows alone)
        writer.execute(
            sa.text(
                "INSERT INTO interaction (key, source, kind, direction, occurred_at,"
                " duration_minutes, planned, opens, clicks, party_count)"
                " VALUES ('msg:late', 'exchange', 'email', 'inbound', :at, 0, false, 0, 0, 0)"
            ),
            {"at": f.days_ago(2)},
        )
        f.email(engine, sender=USERS[1], to=[CUSTOMERS[3]], at=f.days_ago(1))
        assert _tick(engine, kept).scoring == "changed"  # read while the insert runs
        writer.commit()
    finally:
        writer.close()
    f.email(engine, sender=USERS[0], to=[CUSTOMERS[0]], at=f.days_ago(1))

    summary = _tick(engine, kept)  # the kept book is what a read of the store gives

    assert summary.book is not None and summary.book.startswith("patched")
    assert b"msg:late" in (kept.columns or read_columns(engine)).keys.tolist()
