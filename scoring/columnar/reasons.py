"""Why each record of a group has its score: scoring.explain over the group's figures.

What needs no name is made for all the group's graded records before the first
one (`_prepare`): the points of each factor, the days since the customer last
took part, the engagement line's percents and the channels in use as arrays,
then the four factors' lines and the reasons of frequency and activity mix,
each line that repeats (a day's recency line, a count's frequency line, the
engagement line's shares) formatted once. Per record there is left the reason
that names who last took part, the reasons that apply to few records (our
emails unanswered, theirs awaiting our reply, meetings skipped, reply speed:
looked at only for the records waiting.py's masks kept), one sort and the
factors. The sentences are explain.py's own functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from scoring.columnar.columns import InteractionColumns, Ints
from scoring.columnar.figures import GroupFigures, moments
from scoring.columnar.waiting import Awaiting, Skipped, Unanswered
from scoring.explain import (
    CHANNELS_IN_USE,
    Candidate,
    as_date,
    awaiting_reason,
    candidate,
    engagement_line,
    frequency_texts,
    last_contact_text,
    mix_reasons,
    never_engaged_detail,
    never_engaged_text,
    ranked,
    recency_detail,
    reply_speed,
    silent_since_text,
    skipped_reason,
    unanswered_reasons,
)
from scoring.factors import FACTOR_WEIGHTS, FactorValues
from scoring.model import Factor, Frequency, RecordRef, RecordScope, Role
from scoring.prepared import DAY_SECONDS

_FROM, _ORGANIZER = Role.FROM, Role.ORGANIZER

# A graded record's factors and reasons but those that name people: (the factors'
# lines, the points each factor earned, the points recency lost, (the points
# engagement lost, earned), the reasons of frequency and activity mix, (the ISO
# date, days ago) the customer last took part, None if never).
Prepared = tuple[
    tuple[str, str, str, str],
    tuple[float, float, float, float],
    float,
    tuple[float, float],
    list[Candidate],
    tuple[str, int] | None,
]


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
    """The factors and reasons of a group's graded records (explain.explain);
    `graded`: the records `explain` will be asked for."""

    def __init__(
        self,
        figures: GroupFigures,
        waiting: tuple[Unanswered, Skipped, Awaiting],
        columns: InteractionColumns,
        frequency: Frequency,
        now_ts: float,
        names: Names,
        graded: Ints,
    ) -> None:
        self.figures, self.columns = figures, columns
        self.unanswered, self.skipped, self.awaiting = waiting
        self.frequency, self.now_ts, self.names = frequency, now_ts, names
        self.refs = columns.refs.refs
        book = figures.book
        self.replies_by_them = book.replies_by_them.tolist()
        self.hours_by_them = book.hours_by_them.tolist()
        replied = np.flatnonzero(book.replies_by_them > 0).tolist()
        # The records one of the reasons that apply to few can apply to.
        self.waiting = (
            self.unanswered.records | self.awaiting.records | self.skipped.records | set(replied)
        )
        self.prepared = _prepare(figures, frequency, now_ts, graded)

    def explain(
        self, index: int, scope: RecordScope, values: FactorValues
    ) -> tuple[tuple[Factor, ...], tuple[str, ...]]:
        details, earned, lost, engagement, fixed, last = self.prepared[index]
        # Candidates as explain.candidate makes them, (-impact, -size, text), a call
        # less each.
        if last is None:
            recency = (-lost, 0, never_engaged_text(scope.name))
        else:
            date, days = last
            people = scope.people
            if len(people) == 1:  # a contact or a lead: it was them
                [person] = people
                who = self.names.of(person, scope)
            else:
                who = self._engaged_person(index, scope)
            if values[0] < 1:
                recency = (-lost, -days, silent_since_text(who, date, days))
            else:
                recency = (-earned[0], 0, last_contact_text(who, date))
        candidates = [recency, *fixed]
        if index in self.waiting:
            candidates += self._engagement_reasons(index, scope, *engagement)
        return ranked(values, earned, details, candidates)

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
        replies = self.replies_by_them[index]
        if replies:
            hours = self.hours_by_them[index]
            reasons += reply_speed(replies, hours, scope.name, lost, earned)
        return reasons

    def _unanswered(self, index: int, scope: RecordScope, lost: float) -> list[Candidate]:
        """Our emails unanswered, by the name of who waits on them (two people may
        share one: their emails are added up, from the earlier start)."""
        recipients, refs, name = self.unanswered.recipients, self.refs, self.names.of
        messages, since = recipients.messages, recipients.since
        by_name: dict[str, list[float]] = {}  # name -> [messages, since]
        for k in recipients.of(index):
            who = name(refs[recipients.person[k]], scope)
            entry = by_name.get(who)
            if entry is None:
                by_name[who] = [messages[k], since[k]]
            else:
                entry[0] += messages[k]
                entry[1] = min(entry[1], since[k])
        return unanswered_reasons(by_name, lost)

    def _awaiting(self, index: int, scope: RecordScope) -> list[Candidate]:
        awaiting, refs, name = self.awaiting, self.refs, self.names.of
        return [
            awaiting_reason(
                name(refs[awaiting.person[k]], scope), awaiting.emails[k], awaiting.since[k]
            )
            for k in awaiting.of(index)
        ]

    def _skipped(self, index: int, scope: RecordScope, lost: float) -> list[Candidate]:
        skipped, refs, name = self.skipped, self.refs, self.names.of
        return [
            skipped_reason(
                name(refs[skipped.person[k]], scope),
                skipped.declined[k],
                skipped.unanswered[k],
                skipped.invited[k],
                lost,
            )
            for k in skipped.of(index)
        ]

    def _engaged_person(self, index: int, scope: RecordScope) -> str:
        """Who of the record's several people took part last (explain._engaged_person)."""
        people = scope.people
        external = self.figures.last_engaged_parties(index)
        ours = [p for p in external if p.ref in people and p.role in (_FROM, _ORGANIZER)]
        ours = ours or [p for p in external if p.ref in people]
        return self.names.of(ours[0].ref, scope) if ours else scope.name


def _prepare(
    figures: GroupFigures, frequency: Frequency, now_ts: float, graded: Ints
) -> dict[int, Prepared]:
    """What explain.explain makes of each graded record that names nobody (see the
    module docstring), by record."""
    never = never_engaged_detail(frequency)
    prepared: list[Prepared] = []
    for (
        value_frequency,
        value_mix,
        earned_all,
        lost_recency,
        lost_frequency,
        lost_engagement,
        lost_mix,
        ever,
        at,
        ago,
        recent,
        replied,
        accept,
        each,
        channel,
        meeting,
        call,
    ) in _figures(figures, now_ts, graded):
        last: tuple[str, int] | None = None
        recency = never
        if ever:
            date = as_date(at)
            last = (date, ago)
            # explain.py formats each repeated line once (functools.cache).
            recency = recency_detail(frequency, date, ago)
        contacts, frequency_line, short = frequency_texts(frequency, recent)
        fixed = [
            candidate(lost_frequency, -value_frequency, short)
            if value_frequency < 1
            else candidate(earned_all[1], value_frequency, contacts),
            *mix_reasons(meeting, call, now_ts, value_mix, lost_mix, earned_all[3]),
        ]
        line = engagement_line(
            None if replied < 0 else replied,
            None if accept < 0 else accept,
            None if each != each else each,  # NaN: no ratio
        )
        details = (recency, frequency_line, line, CHANNELS_IN_USE[channel])
        prepared.append(
            (details, earned_all, lost_recency, (lost_engagement, earned_all[2]), fixed, last)
        )
    return dict(zip(graded.tolist(), prepared, strict=True))


def _figures(figures: GroupFigures, now_ts: float, graded: Ints) -> zip[tuple[Any, ...]]:
    """Per graded record, what _prepare reads: (frequency, activity mix, the points
    earned by factor, the points lost by each factor, ever engaged, when last,
    days ago, recent two-way contacts, replies' percent of full credit, invitations'
    percent accepted (-1: nothing to measure), their emails for each of ours (NaN:
    none), the channels' code, the last meeting, any call). Every figure is the
    float explain.py computes: the same IEEE operations in the same order (`rint`
    rounds half to even, as `round`)."""
    book, read, now = figures.book, figures.read_now, figures.book.now
    values = [
        value[graded]
        for value in (read.recency, read.frequency, read.engagement, read.activity_mix)
    ]
    earned, lost = [], []
    for weight, value in zip(FACTOR_WEIGHTS, values, strict=True):  # explain.factor_points
        points = 100 * weight * value
        earned.append(points)
        lost.append(100 * weight - points)
    last_visit = now.last_engaged[graded]
    engaged = last_visit >= 0
    visit_ts = book.ts[np.maximum(last_visit, 0)] if len(book.ts) else np.zeros(len(graded))
    last_ts = np.where(engaged, visit_ts, now_ts)
    days = np.rint(np.maximum(0.0, (now_ts - last_ts) / DAY_SECONDS)).astype(np.int64)
    asked, answered = now.asked[graded], read.answered[graded]
    invited = now.acceptance_weight[graded]
    replies = np.where(asked > 0, np.rint(answered / np.where(asked > 0, asked, 1.0) * 100), -1)
    accepted = np.where(
        invited > 0,
        np.rint(now.acceptance_sum[graded] / np.where(invited > 0, invited, 1.0) * 100),
        -1,
    )
    volume = now.volume[graded]
    outbound, inbound = volume[:, 0], volume[:, 1]
    both = (outbound > 0) & (inbound > 0)
    ratio = np.where(both, inbound / np.where(both, outbound, 1.0), np.nan)
    # The channels in use, one bit each (explain.CHANNELS_IN_USE).
    channels = (
        (volume[:, 0] + volume[:, 1] + now.loop_volume[graded] > 0).astype(np.int64)
        + 2 * (volume[:, 2] + volume[:, 3] > 0)
        + 4 * (volume[:, 4] + volume[:, 5] > 0)
        + 8 * (volume[:, 6] > 0)
    )
    return zip(
        values[1].tolist(),
        values[3].tolist(),
        zip(*(points.tolist() for points in earned), strict=True),
        *(points.tolist() for points in lost),
        engaged.tolist(),
        last_ts.tolist(),
        days.tolist(),
        book.recent_engaged[graded].tolist(),
        replies.astype(np.int64).tolist(),
        accepted.astype(np.int64).tolist(),
        ratio.tolist(),
        channels.tolist(),
        moments(book, book.last_meeting[graded]),
        (book.last_call[graded] >= 0).tolist(),
        strict=True,
    )
