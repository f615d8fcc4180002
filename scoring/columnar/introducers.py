"""The interactions who-knows-whom can count, decoded from a book's columns a chunk at a time.

scoring.introducers ranks over `Interaction` values. A book read as columns
has none, and building one per interaction for the whole book is what the
columnar core is there to avoid: this picks, with one vectorised mask, the
interactions the ranking can count (held, not after `now`, with a colleague
among our side and a ranked person among theirs; each distinct party set is
read once) and builds only those, chunk by chunk, as the ranking consumes
them. The ranking itself stays scoring.introducers.rank_introducers, so its
results are the reference's by construction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime

import numpy as np

from scoring.columnar.columns import InteractionColumns, micros
from scoring.introducers import INTRODUCED_TYPES
from scoring.model import Interaction, Party, RecordRef, RecordType, Response

CHUNK = 20_000


def introducer_interactions(
    columns: InteractionColumns,
    now: datetime,
    *,
    records: Collection[RecordRef] | None,
    colleagues: Collection[str] | None,
    excluded: Collection[str],
    chunk: int = CHUNK,
) -> Iterator[Interaction]:
    """The interactions of `columns` that rank_introducers(..., records=, colleagues=,
    excluded=) can count, in chronological order; the others it would skip anyway."""
    counted = _counted_sets(columns, records, colleagues, frozenset(excluded))
    codes = columns.party_set
    mask = (codes >= 0) & ~columns.planned & (columns.ts_us <= micros(now))
    mask &= counted[np.maximum(codes, 0)] if len(counted) else False
    positions = np.flatnonzero(mask)
    for start in range(0, len(positions), chunk):
        yield from columns.interactions(positions[start : start + chunk])


def _counted_sets(
    columns: InteractionColumns,
    records: Collection[RecordRef] | None,
    colleagues: Collection[str] | None,
    excluded: frozenset[str],
) -> np.ndarray:
    """Per party set: whether it holds a colleague who counts and a person ranked."""
    ranked = None if records is None else frozenset(records)
    allowed = None if colleagues is None else frozenset(colleagues)

    def colleague(party: Party) -> bool:
        ref = party.ref
        return (
            ref.type is RecordType.SYSTEM_USER
            and party.response is not Response.DECLINED
            and ref.id not in excluded
            and (allowed is None or ref.id in allowed)
        )

    def person(party: Party) -> bool:
        ref = party.ref
        return ref.type in INTRODUCED_TYPES and (ranked is None or ref in ranked)

    sets = columns.sets
    return np.array(
        [
            any(map(colleague, internal)) and any(map(person, external))
            for internal, external in zip(sets.internal, sets.external, strict=True)
        ],
        dtype=np.bool_,
    )
