"""Read the stored interactions as scoring.columnar's columns, in bounded chunks.

The database side of the columnar scorer lives here (worker/run/, beside
worker.run.interactions), so scoring/ stays pure and storage/ imports nothing
of ours.

One plain scan of `interaction` (its rows carry a packed copy of their
parties, storage.packed_parties). On PostgreSQL a binary COPY parsed a block at
a time (worker.run.interaction_copy), whose texts are coded for the whole book
by numpy (worker.run.text_codes) and decoded once per distinct value of the
book, with the block that first holds it: links become references, packed
texts party sets (worker.run.party_texts, a block's new texts at once), and
conversations stay encoded (columns.Texts). The cyclic collector is paused
meanwhile and the heap's free pages are given back after (malloc_tuning).
On SQLite `chunk` rows at a time through the driver, each chunk's tuples made
into numpy columns and dropped, party sets decoded once per distinct packed
text. Either way no Python object per interaction outlives its chunk, and an
interaction whose packed text does not spell out its `party_count` parties
(an id holding a separator) has its party rows read on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from scoring.columnar.builder import ColumnsBuilder
from scoring.columnar.columns import (
    DIRECTION_NAMES,
    KIND_NAMES,
    Codes,
    InteractionColumns,
    micros,
)
from scoring.model import RecordRef
from worker.run.gc_pause import collection_paused
from worker.run.interaction_copy import (
    COPY_QUERY,
    LINK_SEPARATOR,
    POSTGRES_EPOCH_US,
    Block,
    copy_blocks,
    copy_messages,
)
from worker.run.malloc_tuning import (
    blocks_from_the_heap,
    free_pages_returned,
    large_blocks_returned,
    mapped_apart,
)
from worker.run.party_texts import PartyTexts
from worker.run.text_codes import Appended, BookTexts

CHUNK_ROWS = 50_000
_REST = (
    "duration_minutes, conversation_id, regarding_type, regarding_id, planned, opens, clicks, "
    "parties, party_count"
)
# SQLite keeps naive UTC text (storage.types.UTCDateTime); PostgreSQL's read is a
# binary COPY (worker.run.interaction_copy), which hands the time over as stored:
# microseconds since 2000-01-01.
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
    # The read builds a Party, a tuple of them or a string per distinct value, none
    # in a cycle: the cyclic collector walking them cost more than building them.
    with collection_paused():
        columns = _read(engine, chunk, refs)
    free_pages_returned()  # what the read made and dropped between what it keeps
    return columns


def _read(engine: Engine, chunk: int, refs: Collection[RecordRef] | None) -> InteractionColumns:
    postgres = engine.dialect.name == "postgresql"
    reader = BookReader(engine, chunk)
    raw = engine.raw_connection()
    try:
        where = "" if refs is None else WITHIN.format(refs=_refs_table(raw, refs, postgres))
        columns = reader.read(raw, where)
        raw.commit()
    finally:
        raw.close()
    return columns


class BookReader:
    """Reads interaction rows into columns, each text coded for the reader's whole life:
    a second read through the same reader (the rows written since, worker.run.book_cache)
    gives a value the code it had in the first, so the two sets of columns share their
    references, party sets and conversations and can be merged as they are."""

    def __init__(self, engine: Engine, chunk: int = CHUNK_ROWS) -> None:
        self.postgres = engine.dialect.name == "postgresql"
        self.chunk = chunk
        self.builder = ColumnsBuilder()
        self.decoder = _Parties(self.builder, engine, self.postgres)
        self.texts = _CopiedTexts(self.builder, self.decoder)

    def read(self, raw: Any, where: str = "") -> InteractionColumns:
        """The rows of `interaction` `where` (SQL, from " WHERE"), read on the DB-API
        connection `raw` in its transaction, in chronological order."""
        if self.postgres:
            _copy_into(self.builder, self.decoder, raw, where, self.chunk, self.texts)
        else:
            cursor: Any = raw.cursor()
            cursor.execute(SQLITE_QUERY + where)
            for rows in _chunks(cursor, self.chunk):
                _add(self.builder, self.decoder, rows, _sqlite_times)
            cursor.close()
        # Before finish, whose sort (when the rows did not come in order) is the read's
        # peak: what only the read itself needed goes.
        self.decoder.forget_pieces()
        return self.builder.finish()


def _copy_into(
    builder: ColumnsBuilder,
    decoder: _Parties,
    raw: Any,
    where: str,
    chunk: int,
    texts: _CopiedTexts,
) -> None:
    """The rows as a binary COPY stream, parsed a block at a time (interaction_copy);
    each text coded for the book as its block is read (text_codes), and only the
    values new to the book decoded, once each."""
    cursor = raw.cursor()
    with cursor.copy(COPY_QUERY.format(where=where)) as copy, blocks_from_the_heap():
        for block in copy_blocks(copy_messages(copy), chunk):
            _add_block(builder, decoder, block, texts)
    cursor.close()
    builder.conversation_texts = texts.conversation.encoded()


class _CopiedTexts:
    """The copy's texts that repeat, coded over the whole book, and what each code is:
    a conversation's text, a regarding link's record, a packed text's party set."""

    def __init__(self, builder: ColumnsBuilder, decoder: _Parties) -> None:
        self.builder, self.decoder = builder, decoder
        self.conversation, self.regarding, self.parties = BookTexts(), BookTexts(), BookTexts()
        self.refs = Appended(np.int32)  # regarding code -> ref code
        self.sets = Appended(np.int32)  # packed text code -> set code (-1: unread)
        self.spelt = Appended(np.int32)  # packed text code -> parties it spells

    def conversation_codes(self, block: Block) -> Codes:
        codes, _ = self.conversation.codes(block.conversation, new_values=False)
        return codes

    def regarding_codes(self, block: Block) -> Codes:
        codes, new = self.regarding.codes(block.regarding)
        record_code = self.builder.record_code
        # Every link has its two halves (COPY_QUERY sends NULL otherwise).
        refs = [record_code(*link.decode().split(LINK_SEPARATOR, 1)) for link in new]
        self.refs.extend(refs)
        return _looked_up(self.refs.values, codes)

    def party_sets(self, block: Block, counts: Codes) -> Codes:
        codes, new = self.parties.codes(block.parties)
        decoded = self.decoder.all_codes([text.decode() for text in new])
        self.sets.extend([c for c, _ in decoded])
        self.spelt.extend([n for _, n in decoded])
        party_set = _looked_up(self.sets.values, codes)
        # A packed text that does not spell out the row's party count: only an id
        # holding the separator characters gets here; its party rows say who took part.
        for row in np.flatnonzero((codes >= 0) & (_looked_up(self.spelt.values, codes) != counts)):
            party_set[row] = self.decoder.from_key(bytes(block.keys[row]).decode())
        return party_set


def _looked_up(table: Codes, codes: Codes) -> Codes:
    """table[code] for each code, -1 where the code is -1 (NULL)."""
    found: Codes = np.where(codes >= 0, table[np.maximum(codes, 0)] if len(table) else -1, -1)
    return found.astype(np.int32)


def _add_block(
    builder: ColumnsBuilder, decoder: _Parties, block: Block, texts: _CopiedTexts
) -> None:
    fixed = block.fixed
    kind, inbound = fixed["kind"].astype(np.int8), fixed["inbound"]
    if (kind < 0).any():
        bad = decoder.stored_value("kind", KIND_NAMES)
        raise ValueError(f"interaction kind must be one of {', '.join(KIND_NAMES)}, got {bad!r}")
    if (inbound < 0).any():
        bad = decoder.stored_value("direction", DIRECTION_NAMES)
        raise ValueError(
            f"interaction direction must be one of {', '.join(DIRECTION_NAMES)}, got {bad!r}"
        )
    # In this order: a new regarding record is coded before a new party's.
    conversation = texts.conversation_codes(block)
    regarding = texts.regarding_codes(block)
    party_set = texts.party_sets(block, fixed["party_count"].astype(np.int32))
    # The block's own values made before: only the book's columns are mapped apart.
    ts_us = fixed["ts_us"].astype(np.int64)
    ts_us += POSTGRES_EPOCH_US
    is_inbound = inbound == 1
    with mapped_apart():  # the book's columns, grown as they are written, mapped on their own
        builder.add_arrays(
            keys=block.keys,
            kind=kind,
            inbound=is_inbound,
            ts_us=ts_us,
            duration=fixed["duration"],
            conversation=conversation,
            regarding=regarding,
            planned=fixed["planned"],
            opens=fixed["opens"],
            clicks=fixed["clicks"],
            party_set=party_set,
        )


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
    """Packed party text -> a party set code (worker.run.party_texts decodes)."""

    def __init__(self, builder: ColumnsBuilder, engine: Engine, postgres: bool) -> None:
        self.builder = builder
        self.engine = engine
        self.marker = "%s" if postgres else "?"
        self.texts = PartyTexts()
        self._registered = 0  # parties of self.texts whose refs have a code already
        # text -> (code, parties spelt out), for the rows read one by one (SQLite)
        self.known: dict[str, tuple[int, int]] = {}

    def all_codes(self, texts: Sequence[str]) -> list[tuple[int, int]]:
        """(set code, parties spelt out; -1, -1 when the text does not read as parties)
        of every text, all distinct, decoded together."""
        decoded = self.texts.all_sides(texts)
        self._register()
        sets = self.builder.sets
        return [(-1, -1) if found is None else (sets.add(*found[0]), found[1]) for found in decoded]

    def code(self, key: str, text: str | None, count: int) -> int:
        if text is None:
            return -1  # no parties (worker.run.interactions reads it so too)
        found = self.known.get(text)
        if found is None:
            found = self.known[text] = self._decode(text)
        if found[1] == count:
            return found[0]
        # Only an id holding the separator characters gets here.
        return self.from_key(key)

    def _decode(self, text: str) -> tuple[int, int]:
        found = self.texts.sides(text)
        self._register()
        if found is None:
            return -1, -1
        # Keyed by its text, which is canonical (storage.packed_parties): hashing the
        # parties would call the enums' Python-level __hash__.
        return self.builder.sets.code(text, *found[0]), found[1]

    def from_key(self, key: str) -> int:
        """The set code of an interaction's own party rows."""
        sides = self.texts.from_rows(self._party_rows(key))
        self._register()
        return self.builder.sets.code(sides, *sides)

    def forget_pieces(self) -> None:
        """What only a read needs of the packed parties dropped (PartyTexts)."""
        self.texts.forget_pieces()
        self._registered = 0

    def _register(self) -> None:
        """Codes for the refs of the parties decoded since the last call."""
        parties, code = self.texts.parties, self.builder.refs.code
        for party in parties[self._registered :]:
            if party is not None:
                code(party.ref)
        self._registered = len(parties)

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

    def _party_rows(self, key: str) -> list[tuple[Any, ...]]:
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(PARTY_QUERY.format(marker=self.marker), (key,))
            return list(cursor.fetchall())
        finally:
            raw.close()
