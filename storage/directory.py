"""Who is who: CRM records and system users by normalised email address.

Used to match the people on a CRM activity or an Exchange message to CRM
records. An address that matches nothing is dropped by the caller and never
stored (data minimisation). Erased subjects (storage.suppression) are left
out: their records and addresses match nothing, so CRM ingestion and Exchange
normalisation drop them like strangers and they never come back.

On PostgreSQL a tick's CRM pass keeps the directory with its engine
(`kept_directory`): the next pass compares one hash per table of the
columns the directory reads (ids and addresses), taken in SQL, and builds it
again only when one differs or the erased subjects do. Hashing the rows is
the proof, not the change logs, which another replica's tick may have taken
meanwhile. At 50,000 records that is ~25 ms instead of ~0.4 s a pass. An
erasure changes the erased subjects: the next pass drops the kept directory
before it builds one, so an erased address stays in memory no longer than
the tick interval, as the kept book's rows do (worker.run.book_cache).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.crm_tables import Contact, Lead, SystemUser
from storage.engine import is_postgres
from storage.suppression import Suppression, load_suppression
from storage.types import core_table

RecordKey = tuple[str, str]  # (record_type, record_id)


def normalise_address(address: str) -> str:
    """Addresses compare trimmed and case-insensitively (RFC 5321 in practice)."""
    return address.strip().lower()


@dataclass
class Directory:
    by_address: dict[str, RecordKey] = field(default_factory=dict)
    known: set[RecordKey] = field(default_factory=set)
    erased: Suppression = field(default_factory=Suppression)
    erased_records: set[RecordKey] = field(default_factory=set)  # people left out when loading

    def match_address(self, address: str | None) -> RecordKey | None:
        if not address:
            return None
        return self.by_address.get(normalise_address(address))

    def match_record(self, record_type: str | None, record_id: str | None) -> RecordKey | None:
        if not record_type or not record_id:
            return None
        key = (record_type, record_id)
        return key if key in self.known else None

    def record_erased(self, record_type: str | None, record_id: str | None) -> bool:
        """Whether a record (of any type, e.g. an activity's "regarding") was erased."""
        if not self.erased or not record_type or not record_id:
            return False
        key = (record_type, record_id)
        return key in self.erased_records or self.erased.record_erased(*key)

    def erased_address(self, *addresses: str | None) -> bool:
        """Whether any of these addresses (a directory user's mail and UPN, say) was erased."""
        return any(self.erased.address_erased(address) for address in addresses)

    def _add(self, record_type: str, record_id: str, *addresses: str | None) -> None:
        if self.erased.holds(record_type, record_id, addresses):
            # Erased: unknown by its id and by every address it carries.
            self.erased_records.add((record_type, record_id))
            return
        self.known.add((record_type, record_id))
        for address in addresses:
            # First claim wins: system users are loaded first, so a colleague's
            # address is never mistaken for a customer's, contacts beat leads, and
            # within a table the smaller id wins (load_directory reads by id).
            if address:
                self.by_address.setdefault(normalise_address(address), (record_type, record_id))


def load_directory(*, session: Session) -> Directory:
    directory, _ = _load(session, load_suppression(session=session), hashed=False)
    return directory


# What the directory reads of each table, in the order it claims addresses: system users
# first, so a colleague's address is never mistaken for a customer's; contacts beat leads.
DIRECTORY_COLUMNS = (
    ("system_user", core_table(SystemUser), ("id", "email")),
    ("contact", core_table(Contact), ("id", "email", "email2", "email3")),
    ("lead", core_table(Lead), ("id", "email")),
)
TableHash = tuple[int, Any]  # (rows, sum of the rows' 64-bit hashes): PostgreSQL's numbers


def _row_hash(columns: tuple[str, ...]) -> str:
    """A row's hash in SQL: its ROW text (quoted, NULL apart from '') through PostgreSQL's
    64-bit text hash. Summed over the table with the count, equal sums mean equal rows
    but for a 64-bit collision."""
    return f"hashtextextended(ROW({', '.join(columns)})::text, 0)"


def _load(
    session: Session, erased: Suppression, *, hashed: bool
) -> tuple[Directory, tuple[TableHash, ...]]:
    """The directory; with `hashed` (PostgreSQL), each table's hash taken in the statement
    that read it, so the hash is of exactly the rows the directory was built from."""
    directory = Directory(erased=erased)
    hashes = []
    for record_type, table, names in DIRECTORY_COLUMNS:
        # By id within each table: when two records carry one address the first claim wins
        # (Directory._add), and that must not follow the order rows happen to lie on disk,
        # which an UPDATE changes on PostgreSQL.
        columns: list[Any] = [table.c[name] for name in names]
        if hashed:
            summed = f"sum({_row_hash(names)}) OVER ()"
            columns += [sa.literal_column("count(*) OVER ()"), sa.literal_column(summed)]
        found: TableHash = (0, None)
        for row in session.execute(sa.select(*columns).order_by(table.c.id)):
            directory._add(record_type, *row[: len(names)])
            if hashed:
                found = (row[-2], row[-1])
        hashes.append(found)
    return directory, tuple(hashes)


def _table_hashes(session: Session) -> tuple[TableHash, ...]:
    """Every directory table's (rows, hash) now, in one statement (one snapshot)."""
    parts = ", ".join(
        f'(SELECT count(*) FROM "{table.name}"),'
        f' (SELECT sum({_row_hash(names)}) FROM "{table.name}")'
        for _, table, names in DIRECTORY_COLUMNS
    )
    row = session.execute(sa.text(f"SELECT {parts}")).one()
    return tuple((row[i], row[i + 1]) for i in range(0, len(row), 2))


@dataclass(frozen=True)
class _Kept:
    hashes: tuple[TableHash, ...]
    erased: frozenset[str]  # the erased subjects' tokens it was built with
    directory: Directory


# One directory per engine, dropped with it: a worker keeps its engine between ticks.
_KEPT: weakref.WeakKeyDictionary[Engine, _Kept] = weakref.WeakKeyDictionary()


def kept_directory(*, session: Session) -> Directory:
    """`load_directory`, kept with the session's engine while the rows it was built from
    and the erased subjects are unchanged (PostgreSQL; SQLite builds it every time).

    The directory handed back is shared between passes: callers only read it.
    """
    engine = session.get_bind()
    if not isinstance(engine, Engine) or not is_postgres(session):
        return load_directory(session=session)
    erased = load_suppression(session=session)
    kept = _KEPT.pop(engine, None)  # dropped before a new one is built: memory
    if kept is not None and kept.erased == erased.tokens and kept.hashes == _table_hashes(session):
        _KEPT[engine] = kept
        return kept.directory
    directory, hashes = _load(session, erased, hashed=True)
    _KEPT[engine] = _Kept(hashes, erased.tokens, directory)
    return directory
