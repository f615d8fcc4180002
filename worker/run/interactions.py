"""Stored interaction rows -> scoring's plain `Interaction` values.

A store holds millions of party rows naming the same few thousand people in
the same few roles, so `RecordRef` and `Party` values are interned: one
object per distinct value keeps memory flat and makes hashing in scoring cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.engine import Engine

from scoring.model import Direction, Interaction, Kind, Party, RecordRef, RecordType, Response, Role
from storage.crm_records import (
    FIELD_SEPARATOR,
    PARTY_SEPARATOR,
    iter_interactions_with_parties,
    iter_party_rows,
)
from storage.engine import session_scope
from storage.rapport_tables import SIDE_VALUES

KINDS = {kind.value: kind for kind in Kind}
DIRECTIONS = {direction.value: direction for direction in Direction}
RECORD_TYPES = {record_type.value: record_type for record_type in RecordType}
ROLES = {role.value: role for role in Role}
RESPONSES: dict[str | None, Response | None] = {r.value: r for r in Response}
RESPONSES[None] = None


class PartyInterner:
    def __init__(self) -> None:
        self._refs: dict[tuple[str, str], RecordRef] = {}
        self._parties: dict[tuple[str, str, str, str | None], Party] = {}

    def ref(self, record_type: str, record_id: str) -> RecordRef:
        key = (record_type, record_id)
        ref = self._refs.get(key)
        if ref is None:
            ref = self._refs[key] = RecordRef(RECORD_TYPES[record_type], record_id)
        return ref

    def party(self, record_type: str, record_id: str, role: str, response: str | None) -> Party:
        key = (record_type, record_id, role, response)
        party = self._parties.get(key)
        if party is None:
            ref = self.ref(record_type, record_id)
            party = self._parties[key] = Party(ref, ROLES[role], RESPONSES[response])
        return party


PartiesOf = Callable[[str], Iterable[tuple[Any, ...]]]  # key -> rows in PARTY_COLUMNS order


Sides = tuple[tuple[Party, ...], tuple[Party, ...], int]  # internal, external, how many
NO_PARTIES: Sides = ((), (), 0)


class PartyUnpacker:
    """Packed party text (storage.crm_records.PARTY_SEPARATOR) -> the two sides, memoised.

    Parties come out sorted, so an interaction's parties have one order
    whatever order the database returned them in.
    """

    def __init__(self, interner: PartyInterner, parties_of: PartiesOf) -> None:
        self._interner = interner
        self._parties_of = parties_of
        self.decoded: dict[str, Sides] = {}

    def sides(self, key: str, packed: str, count: int) -> Sides:
        sides = self.decoded.get(packed)
        if sides is None:
            try:
                sides = self.decoded[packed] = self._unpack(packed)
            except (ValueError, KeyError):
                sides = None
        if sides is None or sides[2] != count:
            # Only an id holding the separator characters gets here: read this
            # interaction's party rows one by one instead.
            sides = self._from_rows(self._parties_of(key))
        return sides

    def _unpack(self, packed: str) -> Sides:
        rows = []
        for piece in packed.split(PARTY_SEPARATOR):
            side, record_type, role, response, record_id = piece.split(FIELD_SEPARATOR, 4)
            rows.append((None, record_type, record_id, role, side, response))
        return self._from_rows(rows)

    def _from_rows(self, rows: Iterable[tuple[Any, ...]]) -> Sides:
        internal: list[Party] = []
        external: list[Party] = []
        for _key, record_type, record_id, role, side, response in rows:
            if side not in SIDE_VALUES:
                allowed = ", ".join(SIDE_VALUES)
                raise ValueError(f"interaction party side must be one of {allowed}, got {side!r}")
            party = self._interner.party(record_type, record_id, role, response or None)
            (internal if side == "internal" else external).append(party)
        return tuple(sorted(internal)), tuple(sorted(external)), len(internal) + len(external)


def to_interactions(
    rows: Iterable[Any], interner: PartyInterner, parties_of: PartiesOf
) -> list[Interaction]:
    """Rows in INTERACTION_COLUMNS order plus packed parties and their count -> interactions.

    Built with tuple.__new__ and the memo read inline on purpose: this runs
    once per stored interaction.
    """
    unpacker = PartyUnpacker(interner, parties_of)
    kinds, directions, ref, decoded = KINDS, DIRECTIONS, interner.ref, unpacker.decoded
    new = tuple.__new__
    interactions: list[Interaction] = []
    append = interactions.append
    for row in rows:
        (
            key,
            kind,
            direction,
            at,
            minutes,
            thread,
            r_type,
            r_id,
            planned,
            opens,
            clicks,
            packed,
            count,
        ) = row
        if packed is None:
            sides = NO_PARTIES
        else:
            found = decoded.get(packed)
            sides = found if found and found[2] == count else unpacker.sides(key, packed, count)
        append(
            new(
                Interaction,
                (
                    key,
                    kinds[kind],
                    directions[direction],
                    at,
                    sides[0],
                    sides[1],
                    minutes,
                    thread,
                    ref(r_type, r_id) if r_type and r_id else None,
                    bool(planned),
                    opens,
                    clicks,
                ),
            )
        )
    return interactions


InteractionRow = tuple[Any, ...]  # INTERACTION_COLUMNS, packed parties, party count
InteractionRows = list[InteractionRow]


def fetch_interaction_rows(engine: Engine) -> InteractionRows:
    """Every stored interaction as a raw row, not decoded yet: a run that scores in
    several processes lets each process pick and decode its own share's rows."""
    with session_scope(engine) as session:
        return list(iter_interactions_with_parties(session=session))


def decode_interactions(engine: Engine, rows: Iterable[tuple[Any, ...]]) -> list[Interaction]:
    """Raw rows (fetch_interaction_rows) -> interactions; an interaction whose packed
    parties cannot be trusted has its party rows read on their own."""
    with session_scope(engine) as session:

        def parties_of(key: str) -> list[tuple[object, ...]]:
            return list(iter_party_rows(session=session, interaction_key=key))

        return to_interactions(rows, PartyInterner(), parties_of)


def load_interactions(engine: Engine) -> list[Interaction]:
    return decode_interactions(engine, fetch_interaction_rows(engine))
