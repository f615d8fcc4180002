"""How a group's deals and accounts read their people (scoring.rollup.PersonViews).

A person is read as their own contact record reads them, with no creation
date (scoring.pipeline reads a person's scope, which has none): their score
now and at the trend's moment from the group's state codes, when they last
took part, and, for the reason that names a weakest key contact, their
silence from waiting.py's kept entries.
"""

from __future__ import annotations

import numpy as np

from scoring.columnar.columns import InteractionColumns, Ints
from scoring.columnar.figures import GroupFigures
from scoring.columnar.reasons import Names
from scoring.columnar.states import UNGRADED
from scoring.columnar.visits import Visits
from scoring.columnar.waiting import Skipped, Unanswered
from scoring.model import RecordRef
from scoring.rollup import PersonReading, PersonViews, Silence


class People:
    """The persons of a group, by their index in it (see the module docstring)."""

    def __init__(
        self,
        people: dict[RecordRef, int],
        figures: GroupFigures,
        states: tuple[Ints, Ints],
        waiting: tuple[Unanswered, Skipped],
        visits: Visits,
        columns: InteractionColumns,
    ) -> None:
        self.people, self.figures = people, figures
        self.now, self.before = states
        self.unanswered, self.skipped = waiting
        self.visits, self.columns = visits, columns

    def views(self, names: Names) -> PersonViews:
        """How the group's roll-ups read their people: every person's reading made
        up front (a roll-up reads each of its people, and a person is read by each
        deal and account they are in) and read by a dict lookup, unless one of
        them reaches a broken interaction, whose error the read must raise."""
        if any(index in self.visits.broken for index in self.people.values()):
            return PersonViews(self.reading, self.silence, names.person)
        readings = dict(zip(self.people, self._readings(list(self.people.values())), strict=True))
        return PersonViews(readings.__getitem__, self.silence, names.person)

    def _readings(self, indexes: list[int]) -> list[PersonReading]:
        """The readings of the persons at `indexes`, made for all of them at once."""
        figures = self.figures
        at = np.array(indexes, dtype=np.int64)
        now = zip(
            figures.read_now.score[at].tolist(), (self.now[at] < UNGRADED).tolist(), strict=True
        )
        before = zip(
            figures.read_before.score[at].tolist(),
            (self.before[at] < UNGRADED).tolist(),
            strict=True,
        )
        engaged, last = figures.last_engaged, figures.last
        return [
            tuple.__new__(PersonReading, reading)
            for reading in zip(
                [score if graded else None for score, graded in now],
                [score if graded else None for score, graded in before],
                [engaged[index] for index in indexes],
                [last[index] for index in indexes],
                strict=True,
            )
        ]

    def reading(self, person: RecordRef) -> PersonReading:
        index = self.people[person]
        broken = self.visits.broken.get(index)
        if broken is not None:
            raise self.columns.broken[broken][1]
        [reading] = self._readings([index])
        return reading

    def silence(self, person: RecordRef) -> Silence:
        index = self.people[person]
        unanswered = self.unanswered
        turns = unanswered.of(index)
        messages = sum(unanswered.messages[turn] for turn in turns)
        since = min((unanswered.started[turn] for turn in turns), default=None)
        skipped = self.skipped
        return Silence(
            messages, since, skipped.skipped_of_last[index], skipped.invited_of_last[index]
        )
