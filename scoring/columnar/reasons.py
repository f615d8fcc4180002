"""Why each record of a group has its score: scoring.explain over the group's figures.

The sentences are explain.py's own functions, given plain values the group
has already worked out for every record (figures.py) and, for the reasons
that apply to few records (our emails unanswered, theirs awaiting our reply,
meetings skipped), only what waiting.py's masks kept. A record none of them
applies to costs the four factors' lines and one sort.
"""

from __future__ import annotations

from collections.abc import Mapping

from scoring.columnar.columns import InteractionColumns
from scoring.columnar.figures import GroupFigures
from scoring.columnar.waiting import Awaiting, Skipped, Unanswered
from scoring.explain import (
    Candidate,
    activity_mix_explained,
    awaiting_reasons,
    engagement_text,
    explained,
    frequency_explained,
    recency_explained,
    reply_speed,
    skipped_meetings,
    unanswered_reasons,
)
from scoring.factors import FactorValues
from scoring.model import Factor, Frequency, RecordRef, RecordScope, Role
from scoring.prepared import DAY_SECONDS

_FROM, _ORGANIZER = Role.FROM, Role.ORGANIZER


class Names:
    """Display names as explain.py gives them (`_name`): the CRM's, else the record's
    own for itself, else "<type> <id>"."""

    def __init__(self, names: Mapping[RecordRef, str]) -> None:
        self.names = names

    def of(self, ref: RecordRef, scope: RecordScope) -> str:
        name = self.names.get(ref)
        if name:
            return name
        if ref == scope.record:
            return scope.name
        return ref.type + " " + ref.id

    def person(self, ref: RecordRef) -> str:
        return self.names.get(ref) or ref.type + " " + ref.id


class Reasons:
    """The factors and reasons of a group's graded records (explain.explain)."""

    def __init__(
        self,
        figures: GroupFigures,
        waiting: tuple[Unanswered, Skipped, Awaiting],
        columns: InteractionColumns,
        frequency: Frequency,
        now_ts: float,
        names: Names,
    ) -> None:
        self.figures, self.columns = figures, columns
        self.unanswered, self.skipped, self.awaiting = waiting
        self.frequency, self.now_ts, self.names = frequency, now_ts, names
        self.refs = columns.refs.refs

    def explain(
        self, index: int, scope: RecordScope, values: FactorValues
    ) -> tuple[tuple[Factor, ...], tuple[str, ...]]:
        figures, frequency = self.figures, self.frequency
        points = figures.points[index]
        last_ts = figures.last_engaged[index]
        engaged = None
        if last_ts is not None:
            days = round(max(0.0, (self.now_ts - last_ts) / DAY_SECONDS))
            engaged = (last_ts, days, self._engaged_person(index, scope))
        lost, earned = points.engagement
        return explained(
            values,
            points,
            recency_explained(frequency, scope.name, engaged, values[0], *points.recency),
            frequency_explained(
                frequency, figures.recent_engaged[index], values[1], *points.frequency
            ),
            (
                engagement_text(*figures.engagement[index]),
                self._engagement_reasons(index, scope, lost, earned),
            ),
            activity_mix_explained(
                figures.kind_volume[index],
                figures.last_meeting[index],
                figures.has_call[index],
                self.now_ts,
                (values[3], *points.activity_mix),
            ),
        )

    def _engagement_reasons(
        self, index: int, scope: RecordScope, lost: float, earned: float
    ) -> list[Candidate]:
        """Our emails unanswered, theirs awaiting our reply, meetings skipped, reply
        speed: each looked at only for the records waiting.py found it can apply to."""
        reasons: list[Candidate] = []
        if index in self.unanswered.records:
            reasons += self._unanswered(index, scope, lost)
        if index in self.awaiting.records:
            reasons += self._awaiting(index, scope)
        if index in self.skipped.records:
            reasons += self._skipped(index, scope, lost)
        replies = self.figures.replies_by_them[index]
        if replies:
            hours = self.figures.hours_by_them[index]
            reasons += reply_speed(replies, hours, scope.name, lost, earned)
        return reasons

    def _unanswered(self, index: int, scope: RecordScope, lost: float) -> list[Candidate]:
        turns = self.unanswered.of(index)
        started, messages, parties = (
            self.unanswered.started,
            self.unanswered.messages,
            self.unanswered.parties,
        )
        people = scope.people
        waiting: dict[str, list[float]] = {}  # name -> [messages, since]
        for turn in turns:
            external = parties[turn]
            recipients = [p.ref for p in external if p.ref in people] or [p.ref for p in external]
            for ref in dict.fromkeys(recipients):
                entry = waiting.setdefault(self.names.of(ref, scope), [0, started[turn]])
                entry[0] += messages[turn]
                entry[1] = min(entry[1], started[turn])
        return unanswered_reasons(waiting, lost)

    def _awaiting(self, index: int, scope: RecordScope) -> list[Candidate]:
        waiting = self.awaiting.of(index, self.refs)
        name = self.names.of
        return awaiting_reasons([(name(person, scope), entry) for person, entry in waiting.items()])

    def _skipped(self, index: int, scope: RecordScope, lost: float) -> list[Candidate]:
        answers = self.skipped.answers(index, self.refs)
        return skipped_meetings(answers, lambda person: self.names.of(person, scope), lost)

    def _engaged_person(self, index: int, scope: RecordScope) -> str:
        """Who of the record's people took part last (explain._engaged_person)."""
        people = scope.people
        if len(people) == 1:
            [person] = people
            return self.names.of(person, scope)
        external = self.figures.last_engaged_parties(index)
        ours = [p for p in external if p.ref in people and p.role in (_FROM, _ORGANIZER)]
        ours = ours or [p for p in external if p.ref in people]
        return self.names.of(ours[0].ref, scope) if ours else scope.name
