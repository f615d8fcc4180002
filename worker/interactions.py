"""Stored interaction rows -> scoring's plain `Interaction` values.

A store holds millions of party rows naming the same few thousand people in
the same few roles, so `RecordRef` and `Party` values are interned: one
object per distinct value keeps memory flat and makes hashing in scoring cheap.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scoring.model import Direction, Interaction, Kind, Party, RecordRef, RecordType, Response, Role

KINDS = {kind.value: kind for kind in Kind}
DIRECTIONS = {direction.value: direction for direction in Direction}
RECORD_TYPES = {record_type.value: record_type for record_type in RecordType}
ROLES = {role.value: role for role in Role}
RESPONSES: dict[str | None, Response | None] = {r.value: r for r in Response}
RESPONSES[None] = None

Sides = tuple[list[Party], list[Party]]


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


def group_parties(rows: Iterable[Any], interner: PartyInterner) -> dict[str, Sides]:
    sides: dict[str, Sides] = {}
    for key, record_type, record_id, role, side, response in rows:
        entry = sides.get(key)
        if entry is None:
            entry = sides[key] = ([], [])
        party = interner.party(record_type, record_id, role, response)
        entry[0 if side == "internal" else 1].append(party)
    return sides


def to_interactions(
    rows: Iterable[Any], sides: dict[str, Sides], interner: PartyInterner
) -> list[Interaction]:
    empty: Sides = ([], [])
    interactions = []
    for row in rows:
        internal, external = sides.get(row[0], empty)
        regarding = interner.ref(row[6], row[7]) if row[6] and row[7] else None
        interactions.append(
            Interaction(
                key=row[0],
                kind=KINDS[row[1]],
                direction=DIRECTIONS[row[2]],
                occurred_at=row[3],
                internal=tuple(sorted(internal)),
                external=tuple(sorted(external)),
                duration_minutes=row[4],
                conversation_id=row[5],
                regarding=regarding,
                planned=bool(row[8]),
                opens=row[9],
                clicks=row[10],
            )
        )
    return interactions
