"""Persons read in one group, kept for the roll-ups of the groups after it.

A deal or an account reads each of its people as their contact record reads
them (scoring.rollup.PersonReading, and their Silence for the reason that
names the weakest). A group holding a person's own scope reads them from it;
any other group used to read the person again, from all their interactions:
a run lists the contacts before the accounts and deals that roll them up, so
at a regrade every account's contacts were read twice, a third of the run's
visits. Here what a group reads of a person a later group rolls up is kept,
as arrays over the persons some roll-up reads, and the later group leaves the
person out of its visits (`left_out`) and reads the kept values
(`views`): the same values, which depend on the person alone, never on the
group that read them.

A book with a broken interaction keeps nothing (a person reaching one must
raise when read, which rollups.People does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from scoring.columnar.codes import ScopeCodes
from scoring.columnar.columns import Bools, Floats, Ints
from scoring.columnar.visits import GroupCodes
from scoring.model import RecordRef
from scoring.rollup import PersonReading, PersonViews, Silence


@dataclass
class PersonFigures:
    """What a roll-up reads of some persons (arrays by person): scores -1 when not
    graded, times NaN when there is none."""

    score: Ints
    before: Ints
    last_engaged_ts: Floats
    last_ts: Floats
    unanswered: Ints
    unanswered_since_ts: Floats
    skipped: Ints
    invited: Ints


class KeptPersons:
    """The persons some roll-up of a run reads, each kept from the first group that
    reads them, when a later group rolls them up (`last_group`: the last that does);
    what is kept stays for the rest of the run."""

    def __init__(self, codes: ScopeCodes, groups: list[tuple[int, int]]) -> None:
        self.codes = codes
        member_scope = np.repeat(np.arange(len(codes), dtype=np.int64), np.diff(codes.people_ptr))
        rolled = codes.rolled_up[member_scope]
        person = codes.people[rolled]
        starts = np.array([start for start, _ in groups], dtype=np.int64)
        group_of = np.searchsorted(starts, member_scope[rolled], side="right") - 1
        order = np.lexsort((group_of, person))
        person, group_of = person[order], group_of[order]
        last = np.ones(len(person), dtype=np.bool_)
        last[:-1] = person[1:] != person[:-1]
        # Each person a roll-up reads, sorted, and the last group that reads them.
        self.person, self.last_group = person[last], group_of[last]
        self.kept: Bools = np.zeros(len(self.person), dtype=np.bool_)
        self.figures = _no_figures(len(self.person))

    def _slots(self, persons: Ints) -> tuple[Bools, Ints]:
        """Whether each person is one a roll-up reads, and their slot if so (some
        person must be)."""
        at = np.minimum(np.searchsorted(self.person, persons), len(self.person) - 1)
        found: Bools = self.person[at] == persons
        return found, at

    def left_out(self, group: GroupCodes) -> tuple[GroupCodes, Ints]:
        """The group without the persons it would add that an earlier group read, and
        the slots of those (`views` reads them)."""
        added = group.record[group.scopes :]
        if len(added) == 0 or len(self.person) == 0:
            return group, np.zeros(0, dtype=np.int64)
        found, at = self._slots(added)
        known = found & self.kept[at]
        if not known.any():
            return group, np.zeros(0, dtype=np.int64)
        keep = ~known
        scopes, kept = group.scopes, int(keep.sum())
        members = len(group.member_record) - len(added)  # the scopes' own, then one each
        moved = np.full(len(added), -1, dtype=np.int64)
        moved[keep] = scopes + np.arange(kept, dtype=np.int64)
        where = moved.tolist()
        people = {
            ref: index if index < scopes else where[index - scopes]
            for ref, index in group.people.items()
            if index < scopes or where[index - scopes] >= 0
        }
        return (
            replace(
                group,
                record=np.concatenate([group.record[:scopes], added[keep]]),
                member_record=np.concatenate(
                    [group.member_record[:members], scopes + np.arange(kept, dtype=np.int64)]
                ),
                member_person=np.concatenate([group.member_person[:members], added[keep]]),
                has_team=np.concatenate([group.has_team[:scopes], np.zeros(kept, np.bool_)]),
                people=people,
            ),
            at[known],
        )

    def keep(
        self,
        number: int,
        start: int,
        group: GroupCodes,
        figures: Callable[[Ints], PersonFigures],
    ) -> None:
        """Keep what group `number` (its scopes from `start`) read of the persons a later
        group rolls up: from their own scope in it, or from their reading as a person
        added to it. `figures`: the group's PersonFigures of its records at some indexes."""
        if len(self.person) == 0:
            return
        own = np.flatnonzero(self.codes.own[start : start + group.scopes])
        index = np.concatenate([own, np.arange(group.scopes, len(group.record), dtype=np.int64)])
        found, at = self._slots(group.record[index])
        wanted = found & ~self.kept[at] & (self.last_group[at] > number)
        if not wanted.any():
            return
        # A person with two own scopes in the group: the first (either reads the same).
        slots, first = np.unique(at[wanted], return_index=True)
        read = figures(index[wanted][first])
        for name in PersonFigures.__dataclass_fields__:
            getattr(self.figures, name)[slots] = getattr(read, name)
        self.kept[slots] = True

    def views(self, slots: Ints, refs: list[RecordRef], group: PersonViews) -> PersonViews:
        """The group's views of its people (`group`) and the kept persons at `slots`."""
        if len(slots) == 0:
            return group
        kept = self.figures
        persons = [refs[code] for code in self.person[slots].tolist()]
        readings = dict(
            zip(
                persons,
                [
                    tuple.__new__(PersonReading, values)
                    for values in zip(
                        _or_none(kept.score[slots], kept.score[slots] >= 0),
                        _or_none(kept.before[slots], kept.before[slots] >= 0),
                        _or_none(kept.last_engaged_ts[slots]),
                        _or_none(kept.last_ts[slots]),
                        strict=True,
                    )
                ],
                strict=True,
            )
        )
        # A silence is read only for a deal's weakest key contact: made when asked.
        slot_of = dict(zip(persons, slots.tolist(), strict=True))
        group_reading, group_silence = group.reading, group.silence

        def reading(person: RecordRef) -> PersonReading:
            found = readings.get(person)
            return group_reading(person) if found is None else found

        def silence(person: RecordRef) -> Silence:
            slot = slot_of.get(person)
            return group_silence(person) if slot is None else _silence(kept, slot)

        return PersonViews(reading, silence, group.name)


def _silence(kept: PersonFigures, slot: int) -> Silence:
    since = kept.unanswered_since_ts[slot].item()
    return Silence(
        kept.unanswered[slot].item(),
        None if since != since else since,  # NaN: none
        kept.skipped[slot].item(),
        kept.invited[slot].item(),
    )


def _or_none(values: Ints | Floats, present: Bools | None = None) -> list[Any]:
    """The values listed, None where absent (`present` False, else NaN)."""
    listed: list[Any] = values.tolist()
    absent = ~present if present is not None else np.isnan(values)
    for at in np.flatnonzero(absent).tolist():
        listed[at] = None
    return listed


def _no_figures(count: int) -> PersonFigures:
    def ints() -> Ints:
        return np.zeros(count, dtype=np.int64)

    def floats() -> Floats:
        return np.full(count, np.nan)

    return PersonFigures(ints(), ints(), floats(), floats(), ints(), floats(), ints(), ints())
