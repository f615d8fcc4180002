"""Which interactions belong to which record.

The rule is `RecordScope`'s: an interaction counts for a record when it is
regarding the record, or when one of its external parties is one of the
record's people and (when the record has a team) one of ours on it is in that
team. Scoring a whole book of records asks that question millions of times, so
the interactions are indexed once by external party and by regarding record,
and each record gathers the positions of its people instead of scanning.

Who a record's people and team are is decided where the CRM is read, in one
place: worker/run/scopes.py (scoring imports nothing of ours). This module only
applies a `RecordScope` to interactions.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

from scoring.model import Interaction, RecordRef, RecordScope
from scoring.prepared import PreparedInteraction


def belongs_to(scope: RecordScope, interaction: Interaction) -> bool:
    """The scope rule for one interaction (the index below gives the same answer)."""
    if interaction.regarding == scope.record:
        return True
    if not any(party.ref in scope.people for party in interaction.external):
        return False
    team = scope.team
    return team is None or any(party.ref.id in team for party in interaction.internal)


class InteractionIndex:
    """Positions of chronologically sorted interactions by person and by record.

    `broken` holds interactions that could not be prepared (a naive timestamp,
    say) with the error: a record that reaches one fails on its own, with that
    error, and every other record is scored as usual.
    """

    def __init__(
        self,
        rows: list[PreparedInteraction],
        broken: Sequence[tuple[Interaction, Exception]] = (),
    ) -> None:
        self.rows = rows
        self.broken = broken
        # Positions as machine integers (array), not int objects: a record's
        # positions are read in one sweep, without touching scattered objects.
        self.by_person: dict[RecordRef, array[int]] = {}
        self.by_regarding: dict[RecordRef, array[int]] = {}
        # Our colleagues on each interaction, by position: the team filter reads
        # these shared tuples instead of every (cold) row.
        self.colleagues = [row.internal_ids for row in rows]
        interactions = [row[0] for row in rows] + [interaction for interaction, _ in broken]
        by_person, by_regarding = self.by_person, self.by_regarding
        for position, interaction in enumerate(interactions):
            for party in interaction.external:
                person = party[0]  # .ref, without the NamedTuple property call
                positions = by_person.get(person)
                if positions is None:
                    by_person[person] = array("l", (position,))
                elif positions[-1] != position:  # the same person in To and Cc
                    positions.append(position)
            regarding = interaction.regarding
            if regarding is not None:
                positions = by_regarding.get(regarding)
                if positions is None:
                    by_regarding[regarding] = array("l", (position,))
                else:
                    positions.append(position)

    def gather(self, scope: RecordScope) -> list[PreparedInteraction]:
        """The record's interactions, oldest first, each once however it was reached."""
        positions = self._positions(scope)
        if positions and positions[-1] >= len(self.rows):
            _interaction, error = self.broken[positions[-1] - len(self.rows)]
            raise error
        rows = self.rows
        return [rows[position] for position in positions]

    def _positions(self, scope: RecordScope) -> Sequence[int]:
        by_person = self.by_person
        reached: list[Sequence[int]] = [
            by_person[person] for person in scope.people if person in by_person
        ]
        if scope.team is not None:
            reached = [self._with_team(positions, scope.team) for positions in reached]
        regarding = self.by_regarding.get(scope.record)
        if regarding:
            reached.append(regarding)
        if len(reached) == 1:
            return reached[0]
        # Positions are chronological, so a sorted union is the record's
        # history in order with every interaction once.
        return sorted(set().union(*reached))

    def _with_team(self, positions: Sequence[int], team: frozenset[str]) -> list[int]:
        colleagues = self.colleagues
        broken_from = len(colleagues)
        return [
            position
            for position in positions
            if position >= broken_from or not team.isdisjoint(colleagues[position])
        ]
