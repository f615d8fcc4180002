"""Building a book's columns (InteractionColumns) from chunks as they are read:
each chunk written into growing columns, which are put in scoring's
chronological order (oldest first, ties by key) once the read is done, unless
they came in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.columnar.columns import (
    DTYPES,
    KIND_CODES,
    InteractionColumns,
    Ints,
    PartySets,
    Refs,
    Texts,
    micros,
)
from scoring.model import Direction, Interaction, RecordRef, RecordType

_FIRST_ROWS = 1 << 16  # a column's first size, in rows


class ColumnsBuilder:
    """Collects interactions chunk by chunk into columns; `finish()` sorts them."""

    def __init__(self) -> None:
        self.sets = PartySets()
        self.refs = Refs()
        self.conversation_codes: dict[str | None, int] = {None: -1}
        self.regarding_codes: dict[tuple[str | None, str | None], int] = {}
        self.conversations: list[str] = []
        # The conversations as the COPY read finds them (all at once, encoded), if so.
        self.conversation_texts: npt.NDArray[np.bytes_] | None = None
        self._columns = _GrowingColumns()
        self.broken: list[tuple[Interaction, Exception]] = []

    def conversation(self, conversation_id: str | None) -> int:
        code = self.conversation_codes.get(conversation_id)
        if code is None:
            assert conversation_id is not None  # None is coded -1 from the start
            code = self.conversation_codes[conversation_id] = len(self.conversations)
            self.conversations.append(conversation_id)
        return code

    def regarding(self, record_type: str | None, record_id: str | None) -> int:
        """The code of a stored regarding link (-1: none), kept by its two columns."""
        key = (record_type, record_id)
        code = self.regarding_codes.get(key)
        if code is None:
            code = -1
            if record_type and record_id:
                code = self.record_code(record_type, record_id)
            self.regarding_codes[key] = code
        return code

    def record_code(self, record_type: str, record_id: str) -> int:
        """The code of a record's reference, not kept by its two texts (the COPY read codes
        each distinct link once already: a dictionary by text held a tuple and two
        strings per record for nothing, 15 MB at 3M interactions)."""
        return self.refs.code(RecordRef(RecordType(record_type), record_id))

    def add_chunk(
        self,
        keys: Sequence[str],
        kind: Sequence[int],
        inbound: Sequence[bool],
        ts_us: Sequence[int],
        duration: Sequence[float],
        conversation: Sequence[int],
        regarding: Sequence[int],
        planned: Sequence[bool],
        opens: Sequence[int],
        clicks: Sequence[int],
        party_set: Sequence[int],
    ) -> None:
        if not keys:
            return
        self.add_arrays(
            keys=np.array([key.encode() for key in keys], dtype=np.bytes_),
            kind=np.array(kind, dtype=np.int8),
            inbound=np.array(inbound, dtype=np.bool_),
            ts_us=np.array(ts_us, dtype=np.int64),
            duration=np.array(duration, dtype=np.float64),
            conversation=np.array(conversation, dtype=np.int32),
            regarding=np.array(regarding, dtype=np.int32),
            planned=np.array(planned, dtype=np.bool_),
            opens=np.array(opens, dtype=np.int32),
            clicks=np.array(clicks, dtype=np.int32),
            party_set=np.array(party_set, dtype=np.int32),
        )

    def add_arrays(self, **columns: npt.NDArray[Any]) -> None:
        """A chunk already as arrays, one per field of add_chunk (keys as bytes), each
        written into the book's column (cast to its type there: no copy of its own)."""
        self._columns.extend(columns)

    def add_interactions(self, interactions: Iterable[Interaction], chunk: int = 50_000) -> None:
        """Scoring's own values (tests, and callers that hold interactions already)."""
        batch: list[Interaction] = []
        for interaction in interactions:
            if interaction.occurred_at.tzinfo is None:
                error = ValueError(
                    f"interaction {interaction.key}: occurred_at must be timezone-aware"
                )
                self._broken(interaction, error)
                continue
            if interaction.kind not in KIND_CODES:
                self._broken(interaction, KeyError((interaction.kind, interaction.direction)))
                continue
            batch.append(interaction)
            if len(batch) >= chunk:
                self._add_values(batch)
                batch = []
        self._add_values(batch)

    def _broken(self, interaction: Interaction, error: Exception) -> None:
        self.broken.append((interaction, error))

    def _set_of(self, interaction: Interaction) -> int:
        if not interaction.internal and not interaction.external:
            return -1
        for party in (*interaction.internal, *interaction.external):
            self.refs.code(party.ref)
        key = (interaction.internal, interaction.external)
        return self.sets.code(key, interaction.internal, interaction.external)

    def _add_values(self, batch: list[Interaction]) -> None:
        regarding = self.refs.code
        self.add_chunk(
            [i.key for i in batch],
            [KIND_CODES[i.kind] for i in batch],
            [i.direction == Direction.INBOUND for i in batch],
            [micros(i.occurred_at) for i in batch],
            [i.duration_minutes for i in batch],
            [self.conversation(i.conversation_id) for i in batch],
            [-1 if i.regarding is None else regarding(i.regarding) for i in batch],
            [i.planned for i in batch],
            [i.opens for i in batch],
            [i.clicks for i in batch],
            [self._set_of(i) for i in batch],
        )

    def finish(self) -> InteractionColumns:
        """The columns, oldest first, ties by key."""
        merged = self._columns.taken()
        self.sets.forget_keys()  # no set is added after this
        if not in_order(merged["ts_us"], merged["keys"]):
            # The times in order come with the order (the unsorted ones dropped at once),
            # which is then held as int32: the sort's peak is the book's columns, the
            # order and one sorted copy of the widest (the keys).
            order, merged["ts_us"] = _sorted_order(merged["ts_us"], merged["keys"])
            if len(order) < 2**31:
                order = order.astype(np.int32)
            # One array at a time: each sorted copy replaces its unsorted one.
            for name in DTYPES:
                if name != "ts_us":
                    merged[name] = merged[name][order]
        return InteractionColumns(
            keys=merged["keys"],
            kind=merged["kind"],
            inbound=merged["inbound"],
            ts_us=merged["ts_us"],
            duration=merged["duration"],
            conversation=merged["conversation"],
            regarding=merged["regarding"],
            planned=merged["planned"],
            opens=merged["opens"],
            clicks=merged["clicks"],
            party_set=merged["party_set"],
            sets=self.sets,
            refs=self.refs,
            conversations=Texts(
                Texts.of(self.conversations).encoded
                if self.conversation_texts is None
                else self.conversation_texts
            ),
            broken=self.broken,
        )


def chronological(ts_us: Ints, keys: npt.NDArray[np.bytes_]) -> Ints:
    """The order oldest first, ties by key: one integer sort, and keys compared only
    where times are equal."""
    return _sorted_order(ts_us, keys)[0]


def _sorted_order(ts_us: Ints, keys: npt.NDArray[np.bytes_]) -> tuple[Ints, Ints]:
    """chronological's order, and the times in it. numpy's own sort (SIMD, a third of a
    stable sort's time on a book read in no particular order): rows of equal times
    are put in order below, by key and then by row, which is the order a stable
    sort would give them."""
    order: Ints = np.argsort(ts_us)
    ordered = ts_us[order]
    tie = ordered[1:] == ordered[:-1]
    if tie.any():
        tied = np.zeros(len(order), dtype=np.bool_)
        tied[1:] |= tie
        tied[:-1] |= tie
        at = np.flatnonzero(tied)  # runs of equal times, in time order
        rows = order[at]
        # Tied rows keep their (equal) times: only the order among them changes.
        order[at] = rows[np.lexsort((rows, keys[rows], ts_us[rows]))]
    return order, ordered


def in_order(ts_us: Ints, keys: npt.NDArray[np.bytes_]) -> bool:
    """Whether the rows are oldest first, ties by key, as they are."""
    later = ts_us[1:] > ts_us[:-1]
    if later.all():
        return True
    tie = np.flatnonzero(~later)
    return bool((ts_us[tie + 1] == ts_us[tie]).all() and (keys[tie + 1] > keys[tie]).all())


class _GrowingColumns:
    """The book's columns as they are read: one array per field of DTYPES, each written
    a chunk at a time in its own type and grown by doubling. A large array is a mapping
    of its own (the COPY read sees to it: malloc_tuning.mapped_apart), given back
    when it is dropped, and its room not yet written is never touched, so it holds
    no memory. No chunk is kept apart to be joined at the end (which held the book
    twice, its chunks' heap pages not given back), and no chunk's values are cast
    into arrays of their own first."""

    def __init__(self) -> None:
        self._arrays: dict[str, npt.NDArray[Any]] = {}
        self._rows = 0

    def extend(self, chunk: dict[str, npt.NDArray[Any]]) -> None:
        if chunk.keys() != DTYPES.keys():
            # A field left out would leave its rows as whatever np.empty held.
            missing, extra = (
                sorted(DTYPES.keys() - chunk.keys()),
                sorted(chunk.keys() - DTYPES.keys()),
            )
            raise ValueError(f"a chunk's fields: missing {missing}, unknown {extra}")
        rows = len(chunk["kind"])
        if not rows:
            return
        end = self._rows + rows
        self._room(end, chunk["keys"].dtype.itemsize)
        for name, values in chunk.items():
            np.copyto(self._arrays[name][self._rows : end], values, casting="unsafe")
        self._rows = end

    def taken(self) -> dict[str, npt.NDArray[Any]]:
        """The columns read (each the rows written of its array), the builder emptied for
        another read."""
        rows, arrays = self._rows, self._arrays
        self._arrays, self._rows = {}, 0
        if not arrays:
            return {name: np.zeros(0, dtype) for name, dtype in DTYPES.items()}
        return {name: array[:rows] for name, array in arrays.items()}

    def _room(self, rows: int, key_bytes: int) -> None:
        held = len(self._arrays["kind"]) if self._arrays else 0
        if rows > held:
            size = max(rows, 2 * held, _FIRST_ROWS)
            for name, dtype in DTYPES.items():
                if name == "keys":
                    dtype = self._arrays["keys"].dtype if self._arrays else f"S{key_bytes}"
                grown = np.empty(size, dtype=dtype)
                if held:
                    grown[: self._rows] = self._arrays[name][: self._rows]
                self._arrays[name] = grown  # the old array dropped before the next grows
        keys = self._arrays["keys"]
        if key_bytes > keys.dtype.itemsize:  # a longer key than any so far: a wider column
            wider = np.empty(len(keys), dtype=f"S{key_bytes}")
            wider[: self._rows] = keys[: self._rows]  # the room left untouched
            self._arrays["keys"] = wider


def columns_of(interactions: Iterable[Interaction]) -> InteractionColumns:
    builder = ColumnsBuilder()
    builder.add_interactions(interactions)
    return builder.finish()
