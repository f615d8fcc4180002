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
    cache = interner._parties
    for key, record_type, record_id, role, side, response in rows:
        entry = sides.get(key)
        if entry is None:
            entry = sides[key] = ([], [])
        party = cache.get((record_type, record_id, role, response))
        if party is None:
            party = interner.party(record_type, record_id, role, response)
        entry[0 if side == "internal" else 1].append(party)
    return sides


def to_interactions(
    rows: Iterable[Any], sides: dict[str, Sides], interner: PartyInterner
) -> list[Interaction]:
    """Positional construction on purpose: this runs once per stored interaction."""
    empty: Sides = ([], [])
    kinds, directions, ref = KINDS, DIRECTIONS, interner.ref
    interactions: list[Interaction] = []
    append = interactions.append
    for key, kind, direction, at, minutes, thread, r_type, r_id, planned, opens, clicks in rows:
        internal, external = sides.get(key, empty)
        append(
            Interaction(
                key,
                kinds[kind],
                directions[direction],
                at,
                tuple(internal),
                tuple(external),
                minutes,
                thread,
                ref(r_type, r_id) if r_type and r_id else None,
                bool(planned),
                opens,
                clicks,
            )  # fmt: skip
        )
    return interactions
