"""Packed party texts (storage.packed_parties) -> scoring's parties: the one decoder.

Both reads of the book use it: the reference's rows (worker.run.interactions)
decode one text at a time as they meet it, the columnar read
(worker.run.interaction_columns) all of the book's distinct texts at once.
A million interactions name a few ten thousand party sets of a few thousand
people, so each distinct packed party (one piece of a text) is decoded once per
read and its `Party` is shared; the bulk decode then sorts each set's parties
with numpy instead of a Python sort per set.

Parties come out sorted by (record type, record id, role, response), so an
interaction's parties have one order whatever order they were stored in. An
answer left out (None) sorts before any other, where comparing the parties
themselves would fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from scoring.model import Party, RecordRef, RecordType, Response, Role
from storage.packed_parties import FIELD_SEPARATOR, PARTY_SEPARATOR
from worker.run.text_codes import Appended

T = TypeVar("T")
Sides = tuple[tuple[Party, ...], tuple[Party, ...]]  # internal, external
SIDES = ("internal", "external")

# A member by its value through a dictionary: calling the Enum class costs ~10 µs,
# paid per distinct party.
ROLES = {role.value: role for role in Role}
RESPONSES: dict[str | None, Response | None] = {r.value: r for r in Response}
RESPONSES[None] = RESPONSES[""] = None
RECORD_TYPES = {record_type.value: record_type for record_type in RecordType}


def party_order(party: Party) -> tuple[RecordRef, Role, str]:
    """The parties' order within a side: the order of the Party values themselves
    (their enums are strings), with no answer first."""
    return party.ref, party.role, party.response or ""


class PartyTexts:
    """Packed texts -> each side's parties, sorted; each distinct piece decoded once."""

    def __init__(self) -> None:
        self.refs: dict[tuple[str, str], RecordRef] = {}
        self.forget_pieces()  # what a read finds by number: one place sets it up

    def forget_pieces(self) -> None:
        """Drop what finds a packed party by its text, and the parties by number, once
        a read is over (a few ten MB per million interactions, and the kept book
        keeps its reader): a later read decodes the pieces it meets again. The
        records' references stay, shared by the parties to come."""
        self._numbers: dict[str, int] = {}  # packed party -> its number
        self.parties: list[Party | None] = []  # by number; None: does not read as a party
        self._internal: list[bool] = []  # by number
        self._unread: list[bool] = []  # by number: the piece does not read as a party
        # Both as arrays for all_sides, converted a call's new parties at a time and
        # appended (text_codes.Appended): the whole lists converted, or the arrays
        # concatenated, at every block cost in proportion to the book times its
        # blocks (1.2 s of a 3M read, most of the read's growth at 10M).
        self._flags = Appended(np.bool_, 2)
        # An internal side of one party as one tuple, whichever sets have it: a book's
        # sets mostly differ by their external side, and the internal one (a colleague)
        # repeats (external ones hardly do: keeping them would only grow this).
        self._alone: dict[int, tuple[Party, ...]] = {}

    def sides(self, text: str) -> tuple[Sides, int] | None:
        """One text's (sides, parties it spells out); None when a piece of it does not
        read as a party (the caller then reads the party rows, which say what is wrong)."""
        internal: list[Party] = []
        external: list[Party] = []
        for piece in text.split(PARTY_SEPARATOR):
            number = self._number(piece)
            party = self.parties[number]
            if party is None:
                return None
            (internal if self._internal[number] else external).append(party)
        return (
            tuple(sorted(internal, key=party_order)),
            tuple(sorted(external, key=party_order)),
        ), len(internal) + len(external)

    def all_sides(self, texts: Sequence[str]) -> list[tuple[Sides, int] | None]:
        """`sides` of every text, decoded together: Python runs per piece, not per party
        sort, and each set's two tuples are slices of one list in the parties' order."""
        split = [text.split(PARTY_SEPARATOR) for text in texts]
        counts = np.array([len(pieces) for pieces in split], dtype=np.int64)
        number, known = self._number, self._numbers.get
        numbers = np.array(
            [
                found if (found := known(piece)) is not None else number(piece)
                for pieces in split
                for piece in pieces
            ],
            dtype=np.int64,
        )
        del split
        flags = self._flags_now()
        parties, internal = self.parties, flags[:, 0]
        owner = np.repeat(np.arange(len(texts), dtype=np.int64), counts)
        unread = flags[numbers, 1]
        broken = np.bincount(owner[unread], minlength=len(texts)) > 0
        # Each text's internal parties, then its external ones, each side in order: only
        # a side of several parties needs their order.
        group = owner * 2 + ~internal[numbers]
        several = np.bincount(group, minlength=2 * len(texts))[group] > 1
        order = np.lexsort((self._ranks(numbers, several & ~unread), group))
        in_order = numbers[order].tolist()
        ordered = [parties[k] for k in in_order]
        bounds = np.searchsorted(group[order], np.arange(2 * len(texts) + 1)).tolist()
        side = self._side
        return [
            None
            if bad
            else (
                (side(ordered, in_order, start, middle), tuple(ordered[middle:end])),
                count,
            )
            for bad, start, middle, end, count in zip(
                broken.tolist(),
                bounds[0:-1:2],
                bounds[1::2],
                bounds[2::2],
                counts.tolist(),
                strict=True,
            )
        ]

    def _flags_now(self) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """(internal, unread) of every party by number, as an array."""
        held = len(self._flags.values)
        if held < len(self._internal):
            new = np.array([self._internal[held:], self._unread[held:]], dtype=np.bool_)
            self._flags.extend(new.T)
        flags: np.ndarray[Any, np.dtype[np.bool_]] = self._flags.values
        return flags

    def _side(
        self, ordered: Sequence[Party], numbers: list[int], start: int, end: int
    ) -> tuple[Party, ...]:
        """The internal parties ordered[start:end] as a tuple, one per lone party."""
        if end - start != 1:
            return tuple(ordered[start:end])
        number = numbers[start]
        alone = self._alone.get(number)
        if alone is None:
            alone = self._alone[number] = (ordered[start],)
        return alone

    def _ranks(
        self, numbers: np.ndarray[Any, np.dtype[np.int64]], ranked: np.ndarray[Any, Any]
    ) -> np.ndarray[Any, np.dtype[np.int64]]:
        """For each of `numbers`, its party's place in party_order among the `ranked`
        ones (0 for the others)."""
        parties = self.parties
        among = np.unique(numbers[ranked]).tolist()
        among.sort(key=lambda k: party_order(parties[k]))  # type: ignore[arg-type]
        rank = np.zeros(len(parties), dtype=np.int64)
        rank[np.array(among, dtype=np.int64)] = np.arange(len(among), dtype=np.int64)
        ranks: np.ndarray[Any, np.dtype[np.int64]] = rank[numbers]
        return ranks

    def _number(self, piece: str) -> int:
        """The number of a packed party, decoded the first time it is met."""
        found = self._numbers.get(piece)
        if found is None:
            found = self._numbers[piece] = len(self.parties)
            fields = piece.split(FIELD_SEPARATOR, 4)
            party = None
            if len(fields) == 5:
                side, record_type, role, response, record_id = fields
                try:
                    party = self.party(record_type, record_id, role, side, response)
                except ValueError:  # the party rows are read instead, and say what is wrong
                    party = None
            self.parties.append(party)
            self._internal.append(party is not None and fields[0] == "internal")
            self._unread.append(party is None)
        return found

    def from_rows(self, rows: Iterable[tuple[Any, ...]]) -> Sides:
        """An interaction's own party rows (record_type, record_id, role, side, response)."""
        internal: list[Party] = []
        external: list[Party] = []
        for record_type, record_id, role, side, response in rows:
            party = self.party(record_type, record_id, role, side, response)
            (internal if side == "internal" else external).append(party)
        return tuple(sorted(internal, key=party_order)), tuple(sorted(external, key=party_order))

    def party(self, record_type: str, record_id: str, role: str, side: str, response: Any) -> Party:
        """One party, its values checked (ValueError naming the field)."""
        if side not in SIDES:
            raise ValueError(
                f"interaction party side must be one of {', '.join(SIDES)}, got {side!r}"
            )
        ref = self.refs.get((record_type, record_id)) or self.ref(record_type, record_id)
        member = ROLES.get(role) or _value(ROLES, "interaction party role", role)
        if response not in RESPONSES:
            _value(RESPONSES, "interaction party response", response)
        # tuple.__new__: a NamedTuple's own __new__ is Python, paid per distinct party.
        return _new(Party, (ref, member, RESPONSES[response]))

    def ref(self, record_type: str, record_id: str, what: str = "interaction party") -> RecordRef:
        """A record's reference, one object per record (ValueError naming the type)."""
        key = (record_type, record_id)
        ref = self.refs.get(key)
        if ref is None:
            record = _value(RECORD_TYPES, f"{what} type", record_type)
            ref = self.refs[key] = _new(RecordRef, (record, record_id))
        return ref


_new = tuple.__new__


def _value(members: Mapping[Any, T], field: str, value: Any) -> T:
    try:
        return members[value]
    except (KeyError, TypeError):
        allowed = ", ".join(str(key) for key in members if key)
        raise ValueError(f"{field} must be one of {allowed}, got {value!r}") from None
