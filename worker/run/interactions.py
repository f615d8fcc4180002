"""Stored interaction rows -> scoring's plain `Interaction` values.

A store holds millions of party rows naming the same few thousand people in
the same few roles, so `RecordRef` and `Party` values are interned
(worker.run.party_texts): one object per distinct value keeps memory flat and
makes hashing in scoring cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.engine import Engine

from scoring.model import Direction, Interaction, Kind, Party
from storage.crm_records import iter_interactions_with_parties, iter_party_rows
from storage.engine import session_scope
from worker.run.party_texts import PartyTexts

KINDS = {kind.value: kind for kind in Kind}
DIRECTIONS = {direction.value: direction for direction in Direction}

PartiesOf = Callable[[str], Iterable[tuple[Any, ...]]]  # key -> rows in PARTY_COLUMNS order


Sides = tuple[tuple[Party, ...], tuple[Party, ...], int]  # internal, external, how many
NO_PARTIES: Sides = ((), (), 0)


class PartyUnpacker:
    """Packed party text (storage.packed_parties) -> the two sides, memoised
    (worker.run.party_texts decodes, as for the columnar read).

    Parties come out sorted, so an interaction's parties have one order
    whatever order the database returned them in.
    """

    def __init__(self, texts: PartyTexts, parties_of: PartiesOf) -> None:
        self._texts = texts
        self._parties_of = parties_of
        self.decoded: dict[str, Sides] = {}

    def sides(self, key: str, packed: str, count: int) -> Sides:
        sides = self.decoded.get(packed)
        if sides is None:
            found = self._texts.sides(packed)
            if found is not None:
                sides = self.decoded[packed] = (*found[0], found[1])
        if sides is None or sides[2] != count:
            # Only an id holding the separator characters gets here: read this
            # interaction's party rows one by one instead.
            rows = (row[1:] for row in self._parties_of(key))
            internal, external = self._texts.from_rows(rows)
            sides = internal, external, len(internal) + len(external)
        return sides


def to_interactions(
    rows: Iterable[Any], texts: PartyTexts, parties_of: PartiesOf
) -> list[Interaction]:
    """Rows in INTERACTION_COLUMNS order plus packed parties and their count -> interactions.

    Built with tuple.__new__ and the memo read inline on purpose: this runs
    once per stored interaction.
    """
    unpacker = PartyUnpacker(texts, parties_of)
    kinds, directions, ref, decoded = KINDS, DIRECTIONS, texts.ref, unpacker.decoded
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
                    ref(r_type, r_id, "interaction regarding") if r_type and r_id else None,
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

        return to_interactions(rows, PartyTexts(), parties_of)


def load_interactions(engine: Engine) -> list[Interaction]:
    return decode_interactions(engine, fetch_interaction_rows(engine))
