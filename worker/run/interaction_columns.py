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

import numpy as np
import numpy.typing as npt
from sqlalchemy.engine import Engine

from scoring.columnar.columns import (
    DIRECTION_NAMES,
    KIND_NAMES,
    Bools,
    ColumnsBuilder,
    InteractionColumns,
    Ints,
    micros,
)
from scoring.model import Party, RecordRef, RecordType, Response, Role
from storage.packed_parties import FIELD_SEPARATOR, PARTY_SEPARATOR
from worker.run.interaction_copy import COPY_QUERY, LINK_SEPARATOR, Block, copy_blocks, distinct
from worker.run.malloc_arenas import large_blocks_returned

T = TypeVar("T")
CHUNK_ROWS = 50_000
_SIDES = ("internal", "external")
_REST = (
    "duration_minutes, conversation_id, regarding_type, regarding_id, planned, opens, clicks, "
    "parties, party_count"
)
# SQLite keeps naive UTC text (storage.types.UTCDateTime); PostgreSQL's read is a
# binary COPY (worker.run.interaction_copy), which hands the time over as
# microseconds since the epoch (exact: extract gives a numeric).
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
    large_blocks_returned()  # the book's arrays are given back when freed
    postgres = engine.dialect.name == "postgresql"
    builder = ColumnsBuilder()
    decoder = _Parties(builder, engine, postgres)
    raw = engine.raw_connection()
    try:
        where = "" if refs is None else WITHIN.format(refs=_refs_table(raw, refs, postgres))
        if postgres:
            _copy_into(builder, decoder, raw, where, chunk)
        else:
            cursor: Any = raw.cursor()
            cursor.execute(SQLITE_QUERY + where)
            for rows in _chunks(cursor, chunk):
                _add(builder, decoder, rows, _sqlite_times)
            cursor.close()
        raw.commit()
    finally:
        raw.close()
    return builder.finish()


def _copy_into(
    builder: ColumnsBuilder, decoder: _Parties, raw: Any, where: str, chunk: int
) -> None:
    """The rows as a binary COPY stream, parsed a block at a time (interaction_copy)."""
    cursor = raw.cursor()
    with cursor.copy(COPY_QUERY.format(where=where)) as copy:
        for block in copy_blocks(lambda: copy.read() or None, chunk):
            _add_block(builder, decoder, block)
    cursor.close()


def _add_block(builder: ColumnsBuilder, decoder: _Parties, block: Block) -> None:
    fixed = block.fixed
    kind, inbound = fixed["kind"].astype(np.int64), fixed["inbound"]
    if (kind < 0).any():
        bad = decoder.stored_value("kind", KIND_NAMES)
        raise ValueError(f"interaction kind must be one of {', '.join(KIND_NAMES)}, got {bad!r}")
    if (inbound < 0).any():
        bad = decoder.stored_value("direction", DIRECTION_NAMES)
        raise ValueError(
            f"interaction direction must be one of {', '.join(DIRECTION_NAMES)}, got {bad!r}"
        )
    (keys, _), conversation, regarding, parties = block.texts
    codes, values = distinct(*conversation)
    threads = _recoded(codes, [builder.conversation(value.decode()) for value in values])
    codes, values = distinct(*regarding)
    # NULL rows share a value with empty texts, which no row links (read_columns's query).
    links = [value.decode().split(LINK_SEPARATOR, 1) for value in values]
    about = _recoded(codes, [builder.regarding(*link) if len(link) == 2 else -1 for link in links])
    builder.add_arrays(
        keys=keys,
        kind=kind,
        inbound=inbound == 1,
        ts_us=fixed["ts_us"].astype(np.int64),
        duration=fixed["duration"].astype(np.float64),
        conversation=threads,
        regarding=about,
        planned=fixed["planned"].astype(np.bool_),
        opens=fixed["opens"].astype(np.int64),
        clicks=fixed["clicks"].astype(np.int64),
        party_set=decoder.codes(keys, parties, fixed["party_count"].astype(np.int64)),
    )


def _recoded(codes: Ints, by_value: list[int]) -> Ints:
    """Block codes (-1: NULL) -> the book's codes."""
    book = np.array([*by_value, -1], dtype=np.int64)
    recoded: Ints = book[codes]  # -1 reads the last entry: -1
    return recoded


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
    rows = [(ref.type.value, ref.id) for ref in refs]
    if postgres:
        # An incremental tick names tens of thousands: COPY, not an INSERT per ref. The
        # read's cost estimate would switch JIT on, whose compiling cost more than
        # the query (about 0.6 s of 1.1 s at 200k interactions). The table is not
        # analysed: with its true size the planner judges WITHIN's subquery too big
        # to hash and probes it once per interaction row (minutes at 1M).
        with cursor.copy(f"COPY {name} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute("SET LOCAL jit = off")
    else:
        cursor.executemany(f"INSERT INTO {name} VALUES (?, ?)", rows)
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
        # text (str from SQLite, bytes from PostgreSQL's COPY) -> (code, parties spelt out)
        self.known: dict[str | bytes | None, tuple[int, int]] = {}
        self.refs: dict[tuple[str, str], RecordRef] = {}
        self.pieces: dict[str, tuple[bool, Party] | None] = {}  # packed party -> (internal, party)

    def codes(
        self,
        keys: npt.NDArray[np.bytes_],
        parties: tuple[npt.NDArray[np.bytes_], Bools],
        counts: Ints,
    ) -> Ints:
        """Each row's party set code, from a block's packed texts: decoded once per
        distinct text; a row whose count differs reads its party rows."""
        codes, texts = distinct(*parties)
        found = [self.known.get(text) for text in texts]
        for number, text in enumerate(texts):
            if found[number] is None:
                found[number] = self.known[text] = self._decode(text.decode())
        by_text = np.array([*(f[0] for f in found), -1], dtype=np.int64)  # type: ignore[index]
        spelt = np.array([*(f[1] for f in found), -1], dtype=np.int64)  # type: ignore[index]
        result: Ints = by_text[codes]
        for row in np.flatnonzero((codes >= 0) & (spelt[codes] != counts)).tolist():
            # Only an id holding the separator characters gets here.
            key = bytes(keys[row]).decode()
            result[row] = self._from_rows(self._party_rows(key))
        return result

    def stored_value(self, column: str, allowed: Mapping[str, Any]) -> str | None:
        """A value of `column` that is none of `allowed` (for the error that names it)."""
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            listed = ", ".join(f"'{name}'" for name in allowed)
            cursor.execute(
                f"SELECT {column} FROM interaction WHERE {column} NOT IN ({listed}) "
                f"OR {column} IS NULL LIMIT 1"
            )
            row = cursor.fetchone()
            return None if row is None else str(row[0])
        finally:
            raw.close()

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
        internal: list[Party] = []
        external: list[Party] = []
        pieces = self.pieces
        count = 0
        for piece in text.split(PARTY_SEPARATOR):
            if piece in pieces:
                found = pieces[piece]
            else:
                found = pieces[piece] = self._piece(piece)
            if found is None:
                return -1, -1
            (internal if found[0] else external).append(found[1])
            count += 1
        # Keyed by its text, which is canonical (storage.packed_parties): hashing the
        # parties would call the enums' Python-level __hash__.
        return self.builder.sets.code(text, tuple(sorted(internal)), tuple(sorted(external))), count

    def _piece(self, piece: str) -> tuple[bool, Party] | None:
        """One packed party: (internal, the party), or False when it does not read as one
        (the party rows are then read, and say what is wrong)."""
        fields = piece.split(FIELD_SEPARATOR, 4)
        if len(fields) != 5:
            return None
        side, record_type, role, response, record_id = fields
        try:
            party = self._party(record_type, record_id, role, side, response)
        except (KeyError, ValueError):
            return None
        self.builder.refs.code(party.ref)
        return side == "internal", party

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
            party = self._party(record_type, record_id, role, side, response)
            (internal if side == "internal" else external).append(party)
        sides = tuple(sorted(internal)), tuple(sorted(external))
        for party in (*sides[0], *sides[1]):
            self.builder.refs.code(party.ref)
        return self.builder.sets.code(sides, sides[0], sides[1])

    def _party(
        self, record_type: str, record_id: str, role: str, side: str, response: Any
    ) -> Party:
        if side not in _SIDES:
            raise ValueError(
                f"interaction party side must be one of {', '.join(_SIDES)}, got {side!r}"
            )
        ref = self._ref(record_type, record_id)
        return Party(ref, _value(ROLES, "role", role), _value(RESPONSES, "response", response))

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
