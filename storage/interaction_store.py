"""Writing and reading interaction rows in bulk.

Callers hand over complete `InteractionRecord`s (row + parties); this module
diffs them against what is stored and writes only the difference, with Core
statements in batches, never one ORM round trip per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, NamedTuple

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from storage.bulk import COPY_NULL, copy_text, copy_written_lines, insert_rows
from storage.engine import is_postgres
from storage.packed_parties import (
    FIELD_SEPARATOR,
    PACKED_COLUMNS,
    PARTY_SEPARATOR,
    copy_packed_parties,
    pack_parties,
)
from storage.rapport_tables import Interaction, InteractionParty
from storage.types import core_table

CHUNK = 500  # keys per IN (...) list: well under SQLite's bound-parameter limit
STREAM = 10_000  # rows per fetch when reading everything

INTERACTION = core_table(Interaction)
PARTY = core_table(InteractionParty)


class PartyRow(NamedTuple):
    record_type: str
    record_id: str
    role: str
    side: str
    response: str | None = None


@dataclass(frozen=True, slots=True)
class InteractionRecord:
    key: str
    source: str
    kind: str
    direction: str
    occurred_at: datetime
    parties: frozenset[PartyRow]
    duration_minutes: float = 0.0
    conversation_id: str | None = None
    regarding_type: str | None = None
    regarding_id: str | None = None
    planned: bool = False
    opens: int = 0
    clicks: int = 0
    crm_activity_id: str | None = None

    def values(self) -> tuple[Any, ...]:
        """The row in WRITTEN_COLUMNS order: ROW_COLUMNS, then the packed parties."""
        return (*self.row_values(), *pack_parties(self.parties))

    def row_values(self) -> tuple[Any, ...]:
        """The row in ROW_COLUMNS order (what values() gives before the packed parties)."""
        return (
            self.key,
            self.source,
            self.kind,
            self.direction,
            self.occurred_at,
            self.duration_minutes,
            self.conversation_id,
            self.regarding_type,
            self.regarding_id,
            self.planned,
            self.opens,
            self.clicks,
            self.crm_activity_id,
        )

    def row(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "source": self.source,
            "kind": self.kind,
            "direction": self.direction,
            "occurred_at": self.occurred_at,
            "duration_minutes": self.duration_minutes,
            "conversation_id": self.conversation_id,
            "regarding_type": self.regarding_type,
            "regarding_id": self.regarding_id,
            "planned": self.planned,
            "opens": self.opens,
            "clicks": self.clicks,
            "crm_activity_id": self.crm_activity_id,
        }


@dataclass
class WriteCounts:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0


def chunks(items: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def load_records(
    *, session: Session, source: str, keys: Iterable[str] | None = None
) -> dict[str, InteractionRecord]:
    """Stored interactions of one source, with their parties: all, or those with `keys`."""
    if keys is not None:
        records: dict[str, InteractionRecord] = {}
        postgres = is_postgres(session)
        # In key order, the probes walk the index in order: fewer pages read from disk.
        for batch in key_chunks(postgres, sorted(keys)):
            if postgres:
                records.update(_load_keyed(session, source, batch))
                continue
            which = one_of(postgres, INTERACTION.c.key, batch)
            records.update(_load_records(session, source, which))
        return records
    return _load_records(session, source, sa.true())


def keyed_rows(
    session: Session,
    columns: Sequence[Any],
    key: Any,
    values: Sequence[str],
    *conditions: Any,
) -> Any:
    """SELECT `columns` WHERE `key` IN values (and `conditions`, such as the leading
    column of a composite key): one array parameter on PostgreSQL.

    On PostgreSQL each value is one index probe (a LATERAL subquery that OFFSET 0
    keeps from being flattened into a join). As a join, or as `= ANY(:array)`,
    the plan follows the table's statistics, and during a backfill (a table
    growing faster than autovacuum analyzes it) the planner hashes the whole
    table for every page: 15 ms a page at 50,000 rows, growing with each page.
    """
    if not is_postgres(session):
        return sa.select(*columns).where(key.in_(values), *conditions)
    wanted = sa.func.unnest(_array(values)).table_valued("value").render_derived(name="wanted")
    probe = sa.select(*columns).where(key == wanted.c.value, *conditions).offset(0).lateral("probe")
    return sa.select(probe).select_from(wanted).join(probe, sa.true())


def ids_by_type(records: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(record type, id) pairs as each type's ids, sorted: keyed_rows probes them in
    the order of the index it probes."""
    ids: dict[str, list[str]] = {}
    for record_type, record_id in records:
        ids.setdefault(record_type, []).append(record_id)
    return {record_type: sorted(found) for record_type, found in sorted(ids.items())}


def _array(values: Sequence[str]) -> Any:
    return sa.cast(sa.literal(text_array(values), sa.Text()), postgresql.ARRAY(sa.String()))


def text_array(values: Iterable[str]) -> str:
    """A PostgreSQL array literal of text values, for a `CAST(... AS varchar[])` parameter.

    psycopg adapts a list element by element in Python (a regex test each); a
    page's key and id arrays hold a thousand values, on every page of a backfill.
    """
    return "{" + ",".join(map(_array_element, values)) + "}"


def _array_element(value: str) -> str:
    if "\\" in value or '"' in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{value}"'


def _load_keyed(session: Session, source: str, keys: list[str]) -> dict[str, InteractionRecord]:
    """PostgreSQL: the interactions of `source` with these keys, each key one index probe
    (keyed_rows), their parties read back from the row's packed copy.

    The copy is written with the party rows in the same transaction (storage.packed_parties),
    so it says what they say; reading it saves a second probe per key, into the party
    table (at 1M, 10,000 keys: ~0.8 s of a 1 % tick's CRM pass). Where it cannot be read
    back exactly (another count than party_count: a separator inside a value), the
    party rows of those keys are read instead.
    """
    columns = [INTERACTION.c[name] for name in (*ROW_COLUMNS, *PACKED_COLUMNS)]
    # All at once: row by row, the driver checks its result on every fetch (~20 % of this).
    rows = session.execute(keyed_rows(session, columns, INTERACTION.c.key, keys)).all()
    found = [row for row in rows if row[1] == source]  # row[1]: ROW_COLUMNS' source
    parties: dict[str, frozenset[PartyRow]] = {}
    unread: list[str] = []
    for row in found:
        unpacked = unpack_parties(row[-2], row[-1])
        if unpacked is None:
            unread.append(row[0])
        else:
            parties[row[0]] = unpacked
    if unread:
        parties.update(_party_rows(session, unread))
    records = {}
    for key, source_, kind, direction, at, *rest in found:
        own, values = parties[key], rest[: -len(PACKED_COLUMNS)]
        records[key] = InteractionRecord(key, source_, kind, direction, at, own, *values)
    return records


def _party_rows(session: Session, keys: list[str]) -> dict[str, frozenset[PartyRow]]:
    """PostgreSQL: the party rows of these interactions, each key one index probe."""
    party_columns = [PARTY.c[name] for name in PARTY_COLUMNS]
    parties: dict[str, set[PartyRow]] = {key: set() for key in keys}
    rows = session.execute(keyed_rows(session, party_columns, PARTY.c.interaction_key, keys)).all()
    for key, *party in rows:
        parties[key].add(PartyRow(*party))
    return {key: frozenset(found) for key, found in parties.items()}


def unpack_parties(packed: str | None, count: int | None) -> frozenset[PartyRow] | None:
    """The parties of an interaction's packed copy (storage.packed_parties), or None where
    it does not read back as `count` parties of five fields. A response packs as '' when
    there is none: the CRM's are never empty (crm_tables.PARTY_RESPONSE_VALUES)."""
    if packed is None:
        return frozenset() if not count else None
    pieces = packed.split(PARTY_SEPARATOR)
    if len(pieces) != count:
        return None
    parties = []
    for piece in pieces:
        fields = piece.split(FIELD_SEPARATOR, 4)
        if len(fields) != 5:
            return None
        side, record_type, role, response, record_id = fields
        parties.append(PartyRow(record_type, record_id, role, side, response or None))
    return frozenset(parties)


def _load_records(
    session: Session, source: str, which: sa.ColumnElement[bool]
) -> dict[str, InteractionRecord]:
    parties: dict[str, set[PartyRow]] = {}
    party_query = (
        sa.select(PARTY.c.interaction_key, *(PARTY.c[name] for name in PartyRow._fields))
        .join(INTERACTION, INTERACTION.c.key == PARTY.c.interaction_key)
        .where(INTERACTION.c.source == source, which)
        .execution_options(yield_per=STREAM)
    )
    for key, *party in session.execute(party_query):
        parties.setdefault(key, set()).add(PartyRow(*party))
    query = (
        sa.select(*(INTERACTION.c[name] for name in ROW_COLUMNS))
        .where(INTERACTION.c.source == source, which)
        .execution_options(yield_per=STREAM)
    )
    empty: frozenset[PartyRow] = frozenset()
    records = {}
    for key, source_, kind, direction, at, *rest in session.execute(query):
        found = frozenset(parties.get(key, empty))
        records[key] = InteractionRecord(key, source_, kind, direction, at, found, *rest)
    return records


def delete_interactions(*, session: Session, keys: Iterable[str]) -> int:
    removed = 0
    postgres = is_postgres(session)
    for batch in key_chunks(postgres, keys):
        # Parties go explicitly: SQLite only cascades with foreign_keys=ON,
        # and a CRM's own connection may not set it.
        party_key = one_of(postgres, PARTY.c.interaction_key, batch)
        session.execute(sa.delete(PARTY).where(party_key))
        which = one_of(postgres, INTERACTION.c.key, batch)
        result = session.execute(sa.delete(INTERACTION).where(which))
        removed += result.rowcount  # type: ignore[attr-defined]
    return removed


ARRAY_CHUNK = 100_000  # PostgreSQL: keys per array parameter


def key_chunks(postgres: bool, keys: Iterable[str]) -> Iterator[list[str]]:
    """`keys` in batches of the size `one_of` takes on this database."""
    return chunks(keys, ARRAY_CHUNK if postgres else CHUNK)


def one_of(postgres: bool, column: sa.Column[str], batch: list[str]) -> sa.ColumnElement[bool]:
    """`column IN batch`; on PostgreSQL one array parameter (= ANY): an IN list of 500
    parameters per statement made an incremental tick spend seconds building statements
    for 20,000 keys at 1M."""
    if postgres:
        values = sa.bindparam(None, batch, type_=postgresql.ARRAY(sa.Text()))
        return column == sa.func.any(values)
    return column.in_(batch)


def refresh_packed_parties(*, session: Session, keys: Iterable[str]) -> None:
    """Copy these interactions' party rows onto them again: for SQL that deleted some
    of their party rows (an erasure takes one person off shared interactions)."""
    dialect = session.connection().dialect.name
    reset = sa.text("UPDATE interaction SET parties = NULL, party_count = 0 WHERE key IN :keys")
    refill = sa.text(copy_packed_parties(dialect, "interaction_key IN :keys"))
    for batch in chunks(keys):
        # Reset first: an interaction left without party rows has no row to copy from.
        for statement in (reset, refill):
            session.execute(statement.bindparams(sa.bindparam("keys", batch, expanding=True)))


# What an interaction is; the table also holds a packed copy of its parties
# (storage.packed_parties), which every insert writes from the same record.
ROW_COLUMNS = (
    "key",
    "source",
    "kind",
    "direction",
    "occurred_at",
    "duration_minutes",
    "conversation_id",
    "regarding_type",
    "regarding_id",
    "planned",
    "opens",
    "clicks",
    "crm_activity_id",
)
WRITTEN_COLUMNS = (*ROW_COLUMNS, *PACKED_COLUMNS)
PARTY_COLUMNS = ("interaction_key", *PartyRow._fields)


def insert_interactions(*, session: Session, records: Sequence[InteractionRecord]) -> None:
    if not records:
        return
    if is_postgres(session):
        # A backfill writes these two tables a page at a time: rows as ready-made COPY lines.
        copy_written_lines(session, INTERACTION, WRITTEN_COLUMNS, map(_interaction_line, records))
        copy_written_lines(session, PARTY, PARTY_COLUMNS, _party_lines(records))
        return
    insert_rows(session, INTERACTION, WRITTEN_COLUMNS, (record.values() for record in records))
    insert_rows(
        session,
        PARTY,
        PARTY_COLUMNS,
        ((record.key, *party) for record in records for party in record.parties),
    )


def _text(value: str | None) -> str:
    return COPY_NULL if value is None else copy_text(value)


def _interaction_line(record: InteractionRecord) -> str:
    """The row in WRITTEN_COLUMNS order, as a line of COPY text format."""
    parties, party_count = pack_parties(record.parties)
    return (
        f"{_text(record.key)}\t{_text(record.source)}\t{_text(record.kind)}\t"
        f"{_text(record.direction)}\t{record.occurred_at.isoformat()}\t"
        f"{float(record.duration_minutes)!r}\t{_text(record.conversation_id)}\t"
        f"{_text(record.regarding_type)}\t{_text(record.regarding_id)}\t"
        f"{'t' if record.planned else 'f'}\t{int(record.opens)}\t{int(record.clicks)}\t"
        f"{_text(record.crm_activity_id)}\t{_text(parties)}\t{party_count}\n"
    )


def _party_lines(records: Iterable[InteractionRecord]) -> Iterator[str]:
    """Party rows in PARTY_COLUMNS order, as lines of COPY text format."""
    for record in records:
        key = _text(record.key)
        for party in record.parties:
            yield (
                f"{key}\t{_text(party.record_type)}\t{_text(party.record_id)}\t"
                f"{_text(party.role)}\t{_text(party.side)}\t{_text(party.response)}\n"
            )


def sync_records(
    *,
    session: Session,
    desired: dict[str, InteractionRecord],
    stored: dict[str, InteractionRecord],
    keep: frozenset[str] = frozenset(),
) -> WriteCounts:
    """Make the stored rows equal `desired`; rows in `keep` are left as they are.

    A changed interaction is rewritten in place (`rewrite_interactions`), not
    deleted and inserted again with its party rows.
    """
    counts = WriteCounts()
    changed = [key for key, record in desired.items() if key in stored and stored[key] != record]
    gone = [key for key in stored if key not in desired and key not in keep]
    new = [record for key, record in desired.items() if key not in stored]
    counts.updated = len(changed)
    counts.removed = len(gone)
    counts.added = len(new)
    counts.unchanged = len(desired) - counts.updated - counts.added
    delete_interactions(session=session, keys=gone)
    pairs = [(stored[key], desired[key]) for key in changed]
    vanished = rewrite_interactions(session=session, changes=pairs)
    for batch in chunks([*new, *vanished], 5000):
        insert_interactions(session=session, records=batch)
    return counts


def rewrite_interactions(
    *, session: Session, changes: Sequence[tuple[InteractionRecord, InteractionRecord]]
) -> list[InteractionRecord]:
    """Rewrite each stored interaction (first of a pair) as the second, in place: only
    the columns that differ, and the party rows (with their packed copy) only where the
    parties differ. Returns the new records whose row was no longer there (another
    writer deleted it meanwhile): the caller inserts them, as a delete-and-insert would.

    Why in place: at 1M a 1 % tick deleted and wrote again 10,000 interactions and
    their 20,000 party rows, every index entry and foreign-key check of them, where
    the CRM had moved one time or one count. Why only what differs: a column written
    with the value the pass read would undo what another writer changed since (an
    erasure takes a person off an interaction's parties and its packed copy).
    """
    by_columns: dict[tuple[str, ...], list[InteractionRecord]] = {}
    for before, after in changes:
        by_columns.setdefault(changed_columns(before, after), []).append(after)
    present: set[str] = set()
    for columns, records in by_columns.items():
        present.update(_update_columns(session, columns, records))
    repartied = [after for before, after in changes if before.parties != after.parties]
    _replace_parties(session, [record for record in repartied if record.key in present])
    return [after for _before, after in changes if after.key not in present]


def changed_columns(before: InteractionRecord, after: InteractionRecord) -> tuple[str, ...]:
    """The written columns whose values differ between two records of one key: the
    packed parties whenever the parties differ (so never none for two unequal records)."""
    pairs = zip(ROW_COLUMNS, before.row_values(), after.row_values(), strict=True)
    row_changes = tuple(column for column, old, new in pairs if old != new)
    return row_changes + (PACKED_COLUMNS if before.parties != after.parties else ())


# PostgreSQL types of the non-text columns, for values read out of a JSON parameter.
_COLUMN_TYPES = {
    "occurred_at": "timestamptz",
    "duration_minutes": "double precision",
    "planned": "boolean",
    "opens": "integer",
    "clicks": "integer",
    "party_count": "integer",
}


def _update_columns(
    session: Session, columns: tuple[str, ...], records: Sequence[InteractionRecord]
) -> set[str]:
    """Set `columns` of these interactions from the records; the keys of the rows found."""
    positions = [WRITTEN_COLUMNS.index(column) for column in columns]
    # The parties are packed only when their copy is written (10,000 rows of a 1 % tick).
    packed = any(column in PACKED_COLUMNS for column in columns)
    values_of = InteractionRecord.values if packed else InteractionRecord.row_values
    rows = [[values[0], *(values[i] for i in positions)] for values in map(values_of, records)]
    if not is_postgres(session):
        # SQLite: one executemany, which cannot say which rows it found: asked after.
        assigned: dict[str, Any] = {column: sa.bindparam(f"v_{column}") for column in columns}
        each = sa.update(INTERACTION).where(INTERACTION.c.key == sa.bindparam("k_key"))
        names = ["k_key", *(f"v_{column}" for column in columns)]
        session.execute(each.values(assigned), [dict(zip(names, row, strict=True)) for row in rows])
        keys = [record.key for record in records]
        return {key for batch in chunks(keys) for key in _present(session, batch)}
    # One statement, the rows as one JSON parameter (msgspec encodes it in one call).
    value = {
        column: f"(s.row ->> {position})::{_COLUMN_TYPES.get(column, 'text')}"
        for position, column in enumerate(columns, start=1)
    }
    assignments = ", ".join(f"{column} = {value[column]}" for column in columns)
    statement = sa.text(
        f"UPDATE interaction AS t SET {assignments}"
        " FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS s(row)"
        " WHERE t.key = s.row ->> 0 RETURNING t.key"
    )
    found: set[str] = set()
    for batch in chunks(rows, ARRAY_CHUNK):
        encoded = msgspec.json.encode(batch).decode()
        found.update(session.execute(statement, {"rows": encoded}).scalars().all())
    return found


def _present(session: Session, keys: list[str]) -> list[str]:
    return list(session.scalars(sa.select(INTERACTION.c.key).where(INTERACTION.c.key.in_(keys))))


def _replace_parties(session: Session, records: Sequence[InteractionRecord]) -> None:
    """These interactions' party rows made their records' (whose packed copy is written
    with the rest of the row)."""
    postgres = is_postgres(session)
    for batch in key_chunks(postgres, [record.key for record in records]):
        session.execute(sa.delete(PARTY).where(one_of(postgres, PARTY.c.interaction_key, batch)))
    if postgres:
        copy_written_lines(session, PARTY, PARTY_COLUMNS, _party_lines(records))
        return
    insert_rows(
        session,
        PARTY,
        PARTY_COLUMNS,
        ((record.key, *party) for record in records for party in record.parties),
    )
