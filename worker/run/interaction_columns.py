"""Read the stored interactions as scoring.columnar's columns, in bounded chunks.

The database side of the columnar scorer lives here (worker/run/, beside
worker.run.interactions), so scoring/ stays pure and storage/ imports nothing
of ours.

One plain scan of `interaction` (its rows carry a packed copy of their
parties, storage.packed_parties), fetched `chunk` rows at a time (a
server-side cursor on PostgreSQL): each chunk's tuples become numpy columns
and are dropped, so no Python object per interaction outlives its chunk.
Party sets are decoded once per distinct packed text, as
worker.run.interactions does; an interaction whose packed text does not
spell out its `party_count` parties (an id holding a separator) has its
party rows read on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from scoring.columnar.columns import (
    DIRECTION_NAMES,
    KIND_NAMES,
    ColumnsBuilder,
    InteractionColumns,
    micros,
)
from scoring.model import Party, RecordRef, RecordType, Response, Role
from storage.packed_parties import FIELD_SEPARATOR, PARTY_SEPARATOR

T = TypeVar("T")
CHUNK_ROWS = 50_000
_SIDES = ("internal", "external")
_REST = (
    "duration_minutes, conversation_id, regarding_type, regarding_id, planned, opens, clicks, "
    "parties, party_count"
)
# PostgreSQL hands the time over as microseconds since the epoch (exact: extract
# gives a numeric); SQLite keeps naive UTC text (storage.types.UTCDateTime).
POSTGRES_QUERY = (
    "SELECT key, kind, direction, "
    "(extract(epoch FROM occurred_at) * 1000000)::bigint, " + _REST + " FROM interaction"
)
SQLITE_QUERY = "SELECT key, kind, direction, occurred_at, " + _REST + " FROM interaction"
PARTY_QUERY = (
    "SELECT record_type, record_id, role, side, response FROM interaction_party "
    "WHERE interaction_key = {marker}"
)


# Only the interactions that reach some of the given records and people: one of
# them an external party, or the "regarding" record (scoring.scope).
WITHIN = (
    " WHERE key IN (SELECT p.interaction_key FROM interaction_party p JOIN {refs} r"
    " ON p.record_type = r.record_type AND p.record_id = r.record_id"
    " WHERE p.side = 'external')"
    " OR EXISTS (SELECT 1 FROM {refs} r WHERE r.record_type = interaction.regarding_type"
    " AND r.record_id = interaction.regarding_id)"
)


def read_columns(
    engine: Engine, chunk: int = CHUNK_ROWS, refs: Collection[RecordRef] | None = None
) -> InteractionColumns:
    """Every stored interaction, as columns in scoring's chronological order; with
    `refs`, only those that reach one of them (an incremental tick's records and
    their people: everything scoring reads for them)."""
    postgres = engine.dialect.name == "postgresql"
    builder = ColumnsBuilder()
    decoder = _Parties(builder, engine, postgres)
    query = POSTGRES_QUERY if postgres else SQLITE_QUERY
    raw = engine.raw_connection()
    try:
        if refs is not None:
            query += WITHIN.format(refs=_refs_table(raw, refs, postgres))
        cursor: Any = raw.cursor(name="rapport_columnar") if postgres else raw.cursor()
        if postgres:
            cursor.itersize = chunk
        cursor.execute(query)
        for rows in _chunks(cursor, chunk):
            _add(builder, decoder, rows, _postgres_times if postgres else _sqlite_times)
        cursor.close()
        raw.commit()
    finally:
        raw.close()
    return builder.finish()


def _refs_table(raw: Any, refs: Collection[RecordRef], postgres: bool) -> str:
    """`refs` in a temporary table of this connection's transaction; its name."""
    cursor = raw.cursor()
    if postgres:
        name = "pg_temp.scoring_refs"
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(
            "CREATE TEMPORARY TABLE scoring_refs (record_type text, record_id text) ON COMMIT DROP"
        )
    else:
        name = "temp.scoring_refs"
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute("CREATE TEMPORARY TABLE scoring_refs (record_type text, record_id text)")
    marker = "%s" if postgres else "?"
    cursor.executemany(
        f"INSERT INTO {name} VALUES ({marker}, {marker})",
        [(ref.type.value, ref.id) for ref in refs],
    )
    cursor.close()
    return name


def _chunks(cursor: Any, size: int) -> Iterator[Sequence[tuple[Any, ...]]]:
    while True:
        rows = cursor.fetchmany(size)
        if not rows:
            return
        yield rows


def _add(
    builder: ColumnsBuilder,
    decoder: _Parties,
    rows: Sequence[tuple[Any, ...]],
    times_us: Callable[[Sequence[Any]], list[int]],
) -> None:
    (
        keys,
        kinds,
        directions,
        times,
        minutes,
        threads,
        regarding_types,
        regarding_ids,
        planned,
        opens,
        clicks,
        packed,
        counts,
    ) = zip(*rows, strict=True)
    try:
        kind = [KIND_NAMES[value] for value in kinds]
    except KeyError as error:
        raise ValueError(
            f"interaction kind must be one of {', '.join(KIND_NAMES)}, got {error.args[0]!r}"
        ) from None
    try:
        inbound = [DIRECTION_NAMES[value] for value in directions]
    except KeyError as error:
        raise ValueError(
            f"interaction direction must be one of {', '.join(DIRECTION_NAMES)}, "
            f"got {error.args[0]!r}"
        ) from None
    ts_us = times_us(times)
    # Per row: a dictionary lookup in the common case, a method call only for what is new.
    known, code = decoder.known, decoder.code
    party_set = [
        found[0]
        if (found := known.get(text)) is not None and found[1] == count
        # Only new texts, no parties, or an id holding the separators get here.
        else code(key, text, count)
        for key, text, count in zip(keys, packed, counts, strict=True)
    ]
    conversations, conversation = builder.conversation_codes, builder.conversation
    regarded, regarding = builder.regarding_codes, builder.regarding
    builder.add_chunk(
        keys,
        kind,
        inbound,
        ts_us,
        [float(value or 0.0) for value in minutes],
        [
            known_code
            if (known_code := conversations.get(value)) is not None
            else conversation(value)
            for value in threads
        ],
        [
            known_code
            if (known_code := regarded.get((kind_, id_))) is not None
            else regarding(kind_, id_)
            for kind_, id_ in zip(regarding_types, regarding_ids, strict=True)
        ],
        [bool(value) for value in planned],
        [int(value or 0) for value in opens],
        [int(value or 0) for value in clicks],
        party_set,
    )


def _postgres_times(values: Sequence[int]) -> list[int]:
    return list(values)


def _sqlite_times(values: Sequence[str]) -> list[int]:
    return [micros(_sqlite_time(value)) for value in values]


def _sqlite_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class _Parties:
    """Packed party text -> a party set code, decoded once per distinct text."""

    def __init__(self, builder: ColumnsBuilder, engine: Engine, postgres: bool) -> None:
        self.builder = builder
        self.engine = engine
        self.marker = "%s" if postgres else "?"
        self.known: dict[str | None, tuple[int, int]] = {}  # text -> (code, parties spelt out)
        self.refs: dict[tuple[str, str], RecordRef] = {}

    def code(self, key: str, text: str | None, count: int) -> int:
        if text is None:
            return -1  # no parties (worker.run.interactions reads it so too)
        found = self.known.get(text)
        if found is None:
            found = self.known[text] = self._decode(text)
        if found[1] == count:
            return found[0]
        # Only an id holding the separator characters gets here.
        return self._from_rows(self._party_rows(key))

    def _decode(self, text: str) -> tuple[int, int]:
        rows = []
        for piece in text.split(PARTY_SEPARATOR):
            fields = piece.split(FIELD_SEPARATOR, 4)
            if len(fields) != 5:
                return -1, -1
            side, record_type, role, response, record_id = fields
            rows.append((record_type, record_id, role, side, response))
        try:
            return self._from_rows(rows), len(rows)
        except (KeyError, ValueError):
            return -1, -1

    def _party_rows(self, key: str) -> list[tuple[Any, ...]]:
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(PARTY_QUERY.format(marker=self.marker), (key,))
            return list(cursor.fetchall())
        finally:
            raw.close()

    def _from_rows(self, rows: Sequence[tuple[Any, ...]]) -> int:
        internal: list[Party] = []
        external: list[Party] = []
        for record_type, record_id, role, side, response in rows:
            if side not in _SIDES:
                raise ValueError(
                    f"interaction party side must be one of {', '.join(_SIDES)}, got {side!r}"
                )
            ref = self._ref(record_type, record_id)
            party = Party(ref, _value(ROLES, "role", role), _value(RESPONSES, "response", response))
            (internal if side == "internal" else external).append(party)
        sides = tuple(sorted(internal)), tuple(sorted(external))
        for party in (*sides[0], *sides[1]):
            self.builder.refs.code(party.ref)
        return self.builder.sets.code(sides, sides[0], sides[1])

    def _ref(self, record_type: str, record_id: str) -> RecordRef:
        key = (record_type, record_id)
        ref = self.refs.get(key)
        if ref is None:
            ref = self.refs[key] = RecordRef(_value(RECORD_TYPES, "type", record_type), record_id)
        return ref


# A member by its value through a dictionary: calling the Enum class costs ~10 µs,
# paid per party of every distinct party set.
ROLES = {role.value: role for role in Role}
RESPONSES: dict[str | None, Response | None] = {r.value: r for r in Response}
RESPONSES[None] = RESPONSES[""] = None
RECORD_TYPES = {record_type.value: record_type for record_type in RecordType}


def _value(members: Mapping[Any, T], field: str, value: Any) -> T:
    try:
        return members[value]
    except (KeyError, TypeError):
        allowed = ", ".join(str(key) for key in members if key)
        raise ValueError(
            f"interaction party {field} must be one of {allowed}, got {value!r}"
        ) from None
