"""The book kept in the service's memory between ticks, patched with the rows written since.

A tick scores from the whole book as columns (worker.run.interaction_columns):
at a million interactions reading it is about 2.4 s, most of a tick after a
few changes. The service (`rapport worker`, RAPPORT_KEEP_BOOK) keeps the
columns, and the reader that coded their texts, from one tick to the next, and
reads only what changed since; `rapport run --once` is one tick and keeps
nothing. The scoring run's index of the book and the keys' hashes are kept
and patched with the columns (scoring.columnar.indexed_book), so that a tick
after a few changes does not index or hash the whole book again either.

What changed is proven by the store itself, whoever wrote it (the CRM pass,
Exchange, another replica's tick, retention, a migration, a hand edit), not
by the change logs, which a tick consumes and the CRM pass bypasses
(storage.interaction_log_pause). PostgreSQL stamps every row version with
the transaction that wrote it (`xmin`). Before the book is read (in a
REPEATABLE READ transaction), the oldest transaction that may write what that
read will not see is noted (`_SINCE`: one running on this database, or the
next to start; a savepoint's id comes after its transaction's). The next tick
reads the rows whose xmin is no older (a scan that sends only those),
replaces the kept versions of their keys and counts the table in the same
snapshot. A row deleted since leaves the kept book a row longer than the
table: then, as after an erasure or on SQLite (no row versions), the whole
book is read as before; so it is when the table is not the one the ids are
of (`_IDENTITY`: truncated, rewritten, restored, another server). Ages are
compared with `age()`, modulo 2^32 like the ids themselves; a book whose
snapshot is older than KEPT_XIDS transactions is read again whole.

An erasure (a new row of erased_subject) drops the kept book at the next
tick's start and at the end of the tick it happened in (worker.run.tick), so
no erased value stays in memory longer than the tick interval. The codes only
grow (a conversation no row names any more keeps its text); a scheduled or
requested regrade reads the whole book again, which starts them afresh.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.engine import Engine

from scoring.columnar.columns import InteractionColumns
from scoring.columnar.indexed_book import IndexedBook
from storage.suppression import SuppressionMark
from worker.run.gc_pause import collection_paused
from worker.run.interaction_columns import BookReader, read_columns
from worker.run.malloc_tuning import free_pages_returned, large_blocks_returned
from worker.run.text_codes import row_digests

log = logging.getLogger(__name__)

# A snapshot this many transactions old is read again whole: well inside the 2^31 that
# age() can tell apart, whatever VACUUM has frozen meanwhile.
KEPT_XIDS = 1 << 30
# The oldest transaction that may write rows the next read's snapshot will not see: one
# in progress on this database now (its own transaction id lock; a prepared one has no
# backend), or else the next to start. Asked before that snapshot is taken, so that a
# transaction running then cannot have ended unlisted; other databases' transactions
# (which hold the server-wide snapshot xmin back) cannot write this table.
_SINCE = """
SELECT since FROM (
    SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint % 4294967296 AS since
    UNION ALL
    SELECT lock.transactionid::text::bigint FROM pg_locks AS lock
    LEFT JOIN pg_stat_activity AS backend ON backend.pid = lock.pid
    WHERE lock.locktype = 'transactionid' AND lock.mode = 'ExclusiveLock' AND lock.granted
    AND (backend.datname IS NULL OR backend.datname = current_database())
) AS running ORDER BY age(since::text::xid) DESC LIMIT 1
"""
# Which table the ids are of: the database, the interaction table's file (a TRUNCATE,
# a rewrite or a restore makes a new one) and the server's start (a restored or
# upgraded cluster counts its transaction ids anew).
_IDENTITY = (
    "SELECT concat_ws(' ', oid, pg_relation_filenode('interaction'), pg_postmaster_start_time())"
    " FROM pg_database WHERE datname = current_database()"
)
_WRITTEN_SINCE = " WHERE age(xmin) <= age('{since}'::xid)"


@dataclass
class KeptBook:
    """The last tick's book, its reader, and what proves it current (module docstring)."""

    book: IndexedBook | None = None  # the columns, and the run's index of them once built
    reader: BookReader | None = None
    since: int | None = None  # the snapshot's oldest running transaction id (mod 2^32)
    erasures: SuppressionMark | None = None  # the erased subjects when it was read
    # How the last read went, for the tick's summary: "whole", or "patched: N rows".
    last_read: str = ""
    _store: str = field(default="", repr=False)
    _table: str = field(default="", repr=False)  # _IDENTITY when it was read

    @property
    def columns(self) -> InteractionColumns | None:
        return None if self.book is None else self.book.columns

    def forget(self) -> None:
        self.book = self.reader = self.since = self.erasures = None

    def forget_after_erasure(self, erasures: SuppressionMark) -> None:
        """Drop the book if a subject was erased since it was read (their data is in it)."""
        if self.columns is not None and erasures != self.erasures:
            self.forget()

    def read(
        self, engine: Engine, *, erasures: SuppressionMark, whole: bool = False
    ) -> IndexedBook:
        """The store's book now: the kept one patched with the rows written since it was
        read, or (`whole`, or when no patch can be proven right) every row read again.
        The run's index of the kept book (scoring.columnar.indexed_book) is patched with
        it, when the run asks for it."""
        self.forget_after_erasure(erasures)
        store = engine.url.render_as_string(hide_password=True)
        if whole or store != self._store:
            self.forget()
        self._store = store
        if engine.dialect.name != "postgresql":
            self.last_read = "whole"  # no row versions to prove a patch by
            return IndexedBook(read_columns(engine))
        large_blocks_returned()  # the book's arrays are given back when freed
        try:
            with collection_paused():  # as interaction_columns.read_columns
                columns = self._read(engine, erasures)
        except BaseException:
            self.forget()  # a read cut short leaves its reader half way
            raise
        free_pages_returned()
        return columns

    def _read(self, engine: Engine, erasures: SuppressionMark) -> IndexedBook:
        raw = engine.raw_connection()
        try:
            cursor: Any = raw.cursor()
            cursor.execute(_IDENTITY)
            table = str(cursor.fetchone()[0])
            if table != self._table:
                self.forget()
            cursor.execute(_SINCE)
            since = int(cursor.fetchone()[0])
            raw.commit()
            # The count and the rows read must see one moment.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            patched = self._patched(raw, cursor) if self.book is not None else None
            if patched is None:
                patched = IndexedBook(self._whole(engine, raw))
            cursor.close()
            raw.commit()
        finally:
            raw.close()
        self.book, self.erasures, self.since, self._table = patched, erasures, since, table
        return patched

    def _whole(self, engine: Engine, raw: Any) -> InteractionColumns:
        self.forget()  # before the read: the book is never held twice
        self.reader = BookReader(engine)
        self.last_read = "whole"
        return self.reader.read(raw)

    def _patched(self, raw: Any, cursor: Any) -> IndexedBook | None:
        """The kept book with the rows written since; None when that cannot be trusted."""
        book, reader, since = self.book, self.reader, self.since
        assert book is not None and reader is not None and since is not None
        kept = book.columns
        cursor.execute(
            "SELECT count(*), age(%(since)s::text::xid) FROM interaction", {"since": str(since)}
        )
        stored, age = cursor.fetchone()
        if not 0 <= age < KEPT_XIDS:
            return None
        # However many rows were written since, reading them and merging costs no more
        # than reading the whole book (a restore rewrites every row: all are read here).
        fresh = reader.read(raw, _WRITTEN_SINCE.format(since=int(since)))
        # The kept keys' hashes are kept with them (a second of hashing at 10M keys).
        hashes = _hashes(kept.keys) if book.key_hashes is None else book.key_hashes
        fresh_hashes = _hashes(fresh.keys)
        replaced = _among(kept.keys, hashes, fresh.keys, fresh_hashes)
        # A row deleted since (a purge, an erasure, a CRM activity gone) leaves the kept
        # book longer than the table, and it does not say which: then it is read whole.
        if replaced is None or len(kept) - int(replaced.sum()) + len(fresh) != stored:
            return None
        self.last_read = f"patched: {len(fresh):,} rows"
        book.key_hashes = hashes
        if not len(fresh):
            return book
        self.book = None  # merged field by field: each kept array goes as it is copied
        return book.patched(None if not replaced.any() else ~replaced, fresh, fresh_hashes)


Hashes = npt.NDArray[np.uint64]


def _among(
    keys: npt.NDArray[np.bytes_],
    hashes: Hashes,
    wanted: npt.NDArray[np.bytes_],
    wanted_hashes: Hashes,
) -> npt.NDArray[np.bool_] | None:
    """Which of `keys` are among `wanted` (None if two keys share a hash: not worth the
    trouble, the caller reads the whole book), each given with its hash (`_hashes`), so
    that a million keys are matched by integers; every match is then compared byte for
    byte."""
    width = max(keys.dtype.itemsize, wanted.dtype.itemsize)
    order = np.argsort(wanted_hashes)
    ordered = wanted_hashes[order]
    if len(ordered) == 0:
        return np.zeros(len(keys), dtype=np.bool_)
    if (ordered[1:] == ordered[:-1]).any():
        return None
    at = np.minimum(np.searchsorted(ordered, hashes), len(ordered) - 1)
    found: npt.NDArray[np.bool_] = ordered[at] == hashes
    rows = np.flatnonzero(found)
    same = keys[rows].astype(f"S{width}") == wanted[order[at[rows]]].astype(f"S{width}")
    if not same.all():
        return None
    return found


def _hashes(keys: npt.NDArray[np.bytes_]) -> Hashes:
    """A 64-bit hash of each key's bytes (text_codes' hash of the texts it codes, the same
    whatever the width the keys are padded to), the keys NUL-padded to 8 bytes' multiple."""
    padded = np.zeros((len(keys), -(-keys.dtype.itemsize // 8) * 8), dtype=np.uint8)
    padded[:, : keys.dtype.itemsize] = keys.view(np.uint8).reshape(len(keys), keys.dtype.itemsize)
    return row_digests(padded)
