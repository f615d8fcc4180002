"""The columnar scoring run: the book's figures vectorised, then each record in Python.

`ColumnarRun(columns, settings, now, names).score(scopes)` gives exactly what
`scoring.ScoringRun(interactions, settings, now, names).score(scopes)` gives
(docs/scoring.md, "How it runs fast"): the per-record figures come from
tally.py for the whole book at once, and only what is truly per record stays
here: the health readings from those figures (scoring.health, the same
functions), the reasons, the KPI values and the roll-ups of deals and
accounts (scoring.rollup, the same functions).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from scoring.columnar.columns import (
    KINDS,
    RESPONSES,
    InteractionColumns,
    moment,
)
from scoring.columnar.readings import NO_CLOSED, NOT_ENOUGH_INFO, Readings, read_all
from scoring.columnar.tally import BookTally, tally_book
from scoring.columnar.visits import build_visits, index_book, set_tables
from scoring.explain import (
    AWAITING_REPLY_DAYS,
    LAST_INVITATIONS,
    UNANSWERED_AFTER_HOURS,
    Candidate,
    activity_mix_explained,
    as_date,
    awaiting_reasons,
    engagement_detail,
    explained,
    factor_points,
    frequency_explained,
    plural,
    recency_explained,
    reply_speed,
    skipped_meetings,
    unanswered_reasons,
)
from scoring.factors import (
    FactorValues,
    channel_points,
    days_since_engaged,
)
from scoring.health import RECORD_AGE_LIMIT_DAYS, Reading, check_grading, grade, trend
from scoring.kpis import MOST_CONTACTED_LIMIT, WeeklyTimeline
from scoring.model import (
    Direction,
    Factor,
    HealthState,
    Kpis,
    RecordHealth,
    RecordRef,
    RecordScope,
    Response,
    Role,
    ScoringSettings,
    Trend,
)
from scoring.pipeline import failed
from scoring.prepared import (
    DAY_SECONDS,
    DECAY_HALF_LIFE_DAYS,
    EMAILS_RECEIVED,
    TASKS,
    PreparedInteraction,
    ScoringTime,
    _author,
    influence_weights,
)
from scoring.rollup import (
    PersonReading,
    PersonViews,
    Silence,
    is_rolled_up,
    person_scope,
    rolled_up_health,
)
from scoring.tally import Signals
from scoring.threads import FOLLOWED_BY_CONTACT_CREDIT, HOUR_SECONDS

_NOT_APPLICABLE = Trend.NOT_APPLICABLE
# Visits (record x interaction) per group of records scored together: about
# 70 MB of per-visit arrays at the tally's peak (tally.py), whatever the book;
# smaller groups read more people twice (a deal's people in another group).
GROUP_VISITS = 400_000
_FROM, _ORGANIZER = Role.FROM, Role.ORGANIZER
_SKIPPED = frozenset({Response.DECLINED, Response.NONE})
_DECLINED, _NO_ANSWER = Response.DECLINED, Response.NONE
_INBOUND, _OUTBOUND = Direction.INBOUND, Direction.OUTBOUND


def score_columns(
    columns: InteractionColumns,
    scopes: Iterable[RecordScope],
    settings: ScoringSettings,
    now: datetime,
    names: Mapping[RecordRef, str],
) -> Iterator[RecordHealth]:
    """scoring.score_records over a book read as columns (same results, same order)."""
    return ColumnarRun(columns, settings, now, names).score(scopes)


class ColumnarRun:
    """One run over a book of columns; `score` may be called for any list of records."""

    def __init__(
        self,
        columns: InteractionColumns,
        settings: ScoringSettings,
        now: datetime,
        names: Mapping[RecordRef, str],
    ) -> None:
        check_grading(settings)
        self.settings = settings
        self.weights = influence_weights(settings)
        self.points = channel_points(self.weights)
        self.time = ScoringTime.at(now)
        self.columns = columns
        self.names = names
        self.tables = set_tables(columns)
        self.index = index_book(columns, self.tables)

    def score(
        self, scopes: Iterable[RecordScope], group_visits: int = GROUP_VISITS
    ) -> Iterator[RecordHealth]:
        """Each record's health, in the order of `scopes`. Records are scored a group
        at a time, each group about `group_visits` (record, interaction) visits, so
        that the per-visit arrays stay the size of a group, not of the book."""
        for group in self.groups(list(scopes), group_visits):
            records, people = _with_people(group)
            visits = build_visits(self.columns, self.tables, records, self.index)
            book = tally_book(
                self.columns, self.tables, visits, len(records), self.weights, self.time
            )
            scorer = _Scorer(self, records, people, book)
            del visits, book
            for index, scope in enumerate(group):
                try:
                    health = scorer.score(index, scope)
                except Exception as error:  # one record's failure must not stop the book
                    health = failed(scope.record, error)
                yield health
            del scorer

    def groups(self, scopes: list[RecordScope], group_visits: int) -> Iterator[list[RecordScope]]:
        """Consecutive scopes, cut where the visits they will read pass `group_visits`
        (counted from the book's index: a deal's or account's people count once
        more, as the group reads them as persons when their contacts are elsewhere)."""
        index, code = self.index, self.columns.refs.codes.get
        size = len(self.columns.refs.refs)
        by_person = np.bincount(index.person, minlength=size).tolist()
        by_regarding = np.bincount(index.regarding, minlength=size).tolist()
        group: list[RecordScope] = []
        visits = 0

        def count(counts: list[int], ref: RecordRef) -> int:
            found = code(ref)  # a ref first coded after the count reaches nothing
            return counts[found] if found is not None and found < size else 0

        for scope in scopes:
            reach = sum(count(by_person, person) for person in scope.people)
            reach = reach * (2 if is_rolled_up(scope) else 1)
            reach += count(by_regarding, scope.record)
            if group and visits + reach > group_visits:
                yield group
                group, visits = [], 0
            group.append(scope)
            visits += reach
        if group or not scopes:
            yield group


def _with_people(scopes: list[RecordScope]) -> tuple[list[RecordScope], dict[RecordRef, int]]:
    """The scopes plus a person scope for each person a deal or account rolls up
    whose own contact scope is not among them; person -> index of their scope."""
    records = list(scopes)
    people: dict[RecordRef, int] = {}
    for index, scope in enumerate(scopes):
        if scope.team is None and scope.people == {scope.record}:
            people.setdefault(scope.record, index)
    for scope in scopes:
        if is_rolled_up(scope):
            for person in sorted(scope.people):
                if person not in people:
                    people[person] = len(records)
                    records.append(person_scope(person))
    return records, people


class _Columns(NamedTuple):
    """The book's per-record figures as Python lists (read per record, cheaply)."""

    volume: list[list[float]]
    loop_volume: list[float]
    engaged_volume: list[float]
    last_engaged: list[int]
    asked: list[float]
    replied: list[float]
    reply_credit: list[float]
    silent: list[float]
    acceptance_sum: list[float]
    acceptance_weight: list[float]
    completed: list[int]
    recent_completed: list[int]
    last: list[int]


class _ReadLists(NamedTuple):
    """readings.Readings as Python lists."""

    recency: list[float]
    frequency: list[float]
    engagement: list[float]
    activity_mix: list[float]
    score: list[int]
    ungraded: list[int]


def _read_lists(readings: Readings) -> _ReadLists:
    return _ReadLists(*(getattr(readings, name).tolist() for name in _ReadLists._fields))


_UNGRADED_DORMANT = Reading(None, HealthState.RECORD_OLDER_THAN_2_YEARS, None)
_UNGRADED = {
    NO_CLOSED: Reading(None, HealthState.NO_CLOSED_ACTIVITIES, None),
    NOT_ENOUGH_INFO: Reading(None, HealthState.NOT_ENOUGH_INFO, None),
}


def _lists(reading: object) -> _Columns:
    return _Columns(*(getattr(reading, name).tolist() for name in _Columns._fields))


class _Scorer:
    """Per-record work of one `score` call (reasons, readings, roll-ups)."""

    def __init__(
        self,
        run: ColumnarRun,
        records: list[RecordScope],
        people: dict[RecordRef, int],
        book: BookTally,
    ) -> None:
        self.run, self.records, self.people, self.book = run, records, people, book
        self.time, self.settings, self.names = run.time, run.settings, run.names
        self.columns = run.columns
        self.timeline = WeeklyTimeline(run.time)
        self.now = _lists(book.now)
        self.before = _lists(book.before)
        visits = book.visits
        self.position = visits.position
        self.visit_ts = book.ts  # per visit: read a few times per record, never listed
        # The interactions the KPIs quote (last and next activity), read once.
        self.last_at, self.last_kind, self.last_inbound = self._quoted(book.now.last)
        self.next_at, self.next_kind, _ = self._quoted(book.upcoming)
        self.counts = book.counts.tolist()
        self.timelines = book.timeline.tolist()
        self.team_minutes = book.team_minutes.tolist()
        self.customer_minutes = book.customer_minutes.tolist()
        self.opens, self.clicks = book.opens.tolist(), book.clicks.tolist()
        self.upcoming, self.latest = book.upcoming.tolist(), book.latest.tolist()
        self.last_meeting, self.last_call = book.last_meeting.tolist(), book.last_call.tolist()
        self.recent_engaged = book.recent_engaged.tolist()
        self.threaded = book.threaded.tolist()
        self.in_the_loop = book.in_the_loop.tolist()
        self.replies_by_us = book.replies_by_us.tolist()
        self.replies_by_them = book.replies_by_them.tolist()
        self.answered_by_us = book.answered_by_us.tolist()
        self.answered_by_them = book.answered_by_them.tolist()
        self.hours_by_us = book.hours_by_us.tolist()
        self.hours_by_them = book.hours_by_them.tolist()
        count = len(records)
        arange = np.arange(count + 1)
        self.visit_from = np.searchsorted(visits.record, arange).tolist()
        self.open_from = np.searchsorted(book.open_record, arange).tolist()
        self.invitation_from = np.searchsorted(book.invitation_record, arange).tolist()
        self.contacted_from = np.searchsorted(book.contacted_record, arange).tolist()
        self.contacted_user = book.contacted_user.tolist()
        self.contacted_count = book.contacted_count.tolist()
        self.invitation_person = book.invitation_person.tolist()
        self.invitation_response = book.invitation_response.tolist()
        self.users = run.tables.users
        self.refs = self.columns.refs.refs
        read = {
            "frequency": run.settings.frequency,
            "points": run.points,
            "now_ts": run.time.now_ts,
        }
        self.read_now = _read_lists(
            read_all(
                book.now,
                book.ts,
                as_of_ts=run.time.now_ts,
                has_interactions=book.latest >= 0,
                **read,  # type: ignore[arg-type]
            )
        )
        self.read_before = _read_lists(
            read_all(
                book.before,
                book.ts,
                as_of_ts=run.time.trend_ts,
                has_interactions=np.zeros(len(records), dtype=np.bool_),
                **read,  # type: ignore[arg-type]
            )
        )
        self.readings: dict[int, PersonReading] = {}
        self._prepared: dict[int, PreparedInteraction] = {}
        self._awaiting = self._awaiting_candidates()

    # -- per record ---------------------------------------------------------------

    def score(self, index: int, scope: RecordScope) -> RecordHealth:
        broken = self.book.visits.broken.get(index)
        if broken is not None:
            raise self.columns.broken[broken][1]
        kpis = self.kpis(index)
        settings = self.settings
        if not settings.analytics_enabled:
            return RecordHealth(scope.record, None, None, _NOT_APPLICABLE, kpis)
        created_at_ts = scope.created_at.timestamp() if scope.created_at is not None else None
        now, before = self.readings_of(index, created_at_ts)
        if now.values is None:
            reason = self.ungraded_reason(index, now.state, scope)
            return RecordHealth(
                scope.record, None, now.state, trend(now, before), kpis, (), (reason,)
            )
        factors, reasons = self.explain(index, scope, now.values, self.signals(index, False))
        if now.score is not None and is_rolled_up(scope):
            return self.rolled_up(scope, now, before, kpis, factors, reasons)
        return RecordHealth(
            scope.record, now.score, now.state, trend(now, before), kpis, factors, reasons
        )

    def signals(self, index: int, before: bool) -> Signals:
        figures = self.before if before else self.now
        time = self.time
        as_of_ts = time.trend_ts if before else time.now_ts
        volume = figures.volume[index]
        asked, replied, silent = (
            figures.asked[index],
            figures.replied[index],
            figures.silent[index],
        )
        followed_by_contact = asked - replied - silent
        answered = figures.reply_credit[index] + FOLLOWED_BY_CONTACT_CREDIT * max(
            0.0, followed_by_contact
        )
        last_engaged = figures.last_engaged[index]
        last = figures.last[index]
        # tuple.__new__ skips the NamedTuple's Python-level __new__ (twice per record).
        return tuple.__new__(
            Signals,
            (
                as_of_ts,
                2.0 ** ((time.now_ts - as_of_ts) / (DECAY_HALF_LIFE_DAYS * DAY_SECONDS)),
                (
                    volume[0] + volume[1] + figures.loop_volume[index],
                    volume[2] + volume[3],
                    volume[4] + volume[5],
                    volume[6],
                ),
                figures.engaged_volume[index],
                volume[0],
                volume[1],
                self.prepared(last_engaged) if last_engaged >= 0 else None,
                asked,
                answered,
                figures.acceptance_sum[index],
                figures.acceptance_weight[index],
                figures.completed[index],
                figures.recent_completed[index],
                self._ts(last) if last >= 0 else None,
            ),
        )

    def readings_of(self, index: int, created_at_ts: float | None) -> tuple[Reading, Reading]:
        """The record's health now and at the trend's moment (scoring.health.read_health,
        computed for every record at once by readings.py; only the dormant check,
        which needs the scope's creation date, runs here)."""
        latest = self.latest[index]
        last = self.before.last[index]
        return (
            self._reading(
                self.read_now,
                index,
                created_at_ts,
                self.time.now_ts,
                self._ts(latest) if latest >= 0 else None,
            ),
            self._reading(
                self.read_before,
                index,
                created_at_ts,
                self.time.trend_ts,
                self._ts(last) if last >= 0 else None,
            ),
        )

    def _reading(
        self,
        read: _ReadLists,
        index: int,
        created_at_ts: float | None,
        as_of_ts: float,
        latest_activity_ts: float | None,
    ) -> Reading:
        if created_at_ts is not None:
            dormant_before = as_of_ts - RECORD_AGE_LIMIT_DAYS * DAY_SECONDS
            if created_at_ts < dormant_before and (
                latest_activity_ts is None or latest_activity_ts < dormant_before
            ):
                return _UNGRADED_DORMANT
        ungraded = read.ungraded[index]
        if ungraded:
            return _UNGRADED[ungraded]
        score = read.score[index]
        values = tuple.__new__(
            FactorValues,
            (
                read.recency[index],
                read.frequency[index],
                read.engagement[index],
                read.activity_mix[index],
            ),
        )
        return tuple.__new__(Reading, (score, grade(score, self.settings), values))

    def _quoted(self, visits: npt.NDArray[np.int64]) -> tuple[list[int], list[int], list[bool]]:
        """(time in microseconds, kind code, inbound) of each record's visit (-1: none)."""
        columns = self.columns
        if len(self.book.visits.position) == 0:
            return [0] * len(visits), [0] * len(visits), [False] * len(visits)
        positions = self.book.visits.position[np.maximum(visits, 0)]
        return (
            columns.ts_us[positions].tolist(),
            columns.kind[positions].tolist(),
            columns.inbound[positions].tolist(),
        )

    def _ts(self, visit: int) -> float:
        return float(self.visit_ts[visit])

    def prepared(self, visit: int) -> PreparedInteraction:
        """One visit's interaction as scoring.prepared's row (the few that reasons quote).

        Kept by interaction: a contact, its account and its deal often quote the
        same one. Only its time, kind, planned flag, author and parties are read."""
        position = int(self.position[visit])
        row = self._prepared.get(position)
        if row is None:
            interaction = self.columns.interaction(position)
            row = self._prepared[position] = PreparedInteraction(
                interaction,
                self._ts(visit),
                0.0,  # not read: the figures come from tally.py
                int(self.book.slot[visit]),
                0,
                interaction.direction == _INBOUND,
                0.0,
                0.0,
                None,  # engagement depends on the record (tally.py has it per visit)
                interaction.conversation_id,
                tuple(sorted({party.ref.id for party in interaction.internal})),
                interaction.opens,
                interaction.clicks,
                bool(self.book.planned[visit]),
                _author(interaction.external) if interaction.direction == _INBOUND else None,
            )
        return row

    # -- KPIs ---------------------------------------------------------------------

    def kpis(self, index: int) -> Kpis:
        counts = self.counts[index]
        last = self.now.last[index]
        upcoming = self.upcoming[index]
        sent_threaded, received_threaded = self.threaded[index]
        replies_by_us, replies_by_them = self.replies_by_us[index], self.replies_by_them[index]
        emails = counts[0] + counts[1]
        threaded = sent_threaded + received_threaded + self.in_the_loop[index]
        last_at = last_kind = last_direction = next_at = next_kind = None
        if last >= 0:
            last_at = moment(self.last_at[index])
            last_kind = KINDS[self.last_kind[index]]
            last_direction = _INBOUND if self.last_inbound[index] else _OUTBOUND
        if upcoming >= 0:
            next_at = moment(self.next_at[index])
            next_kind = KINDS[self.next_kind[index]]
        return Kpis(
            emails_sent=counts[0],
            emails_received=counts[1],
            meetings_sent=counts[2],
            meetings_received=counts[3],
            phone_calls_made=counts[4],
            phone_calls_received=counts[5],
            replies_by_us=replies_by_us,
            replies_by_them=replies_by_them,
            time_spent_by_team_minutes=self.team_minutes[index],
            time_spent_by_customer_minutes=self.customer_minutes[index],
            avg_first_response_by_us_hours=_mean(self.hours_by_us[index], replies_by_us),
            avg_first_response_by_them_hours=_mean(self.hours_by_them[index], replies_by_them),
            response_rate_by_us=_mean(self.answered_by_us[index], received_threaded),
            response_rate_by_them=_mean(self.answered_by_them[index], sent_threaded),
            last_activity_at=last_at,
            last_activity_kind=last_kind,
            last_activity_direction=last_direction,
            next_activity_at=next_at,
            next_activity_kind=next_kind,
            email_opens=self.opens[index],
            email_clicks=self.clicks[index],
            weekly=self.timeline.weeks(self.timelines[index]),
            most_contacted=self.most_contacted(index),
            computation_accuracy="partial" if threaded < emails else "complete",
        )

    def most_contacted(self, index: int) -> tuple[tuple[str, int], ...]:
        start, end = self.contacted_from[index], self.contacted_from[index + 1]
        users, user, count = self.users, self.contacted_user, self.contacted_count
        return tuple(
            (users[user[k]], count[k]) for k in range(start, min(end, start + MOST_CONTACTED_LIMIT))
        )

    # -- reasons (scoring.explain, over the figures) ---------------------------------

    def ungraded_reason(self, index: int, state: HealthState, scope: RecordScope) -> str:
        if state == HealthState.RECORD_OLDER_THAN_2_YEARS:
            return "no interaction in the last 2 years; the record is older than 2 years"
        if state == HealthState.NO_CLOSED_ACTIVITIES:
            upcoming = self.upcoming[index]
            when = f"; next on {as_date(self._ts(upcoming))}" if upcoming >= 0 else ""
            return f"only planned activities so far{when}"
        completed = plural(self.now.completed[index], "completed interaction")
        return f"{completed} so far; grading starts with 2 in 90 days or 5 in total"

    def explain(
        self, index: int, scope: RecordScope, values: FactorValues, signals: Signals
    ) -> tuple[tuple[Factor, ...], tuple[str, ...]]:
        """scoring.explain.explain over the figures (the same sentences, built by the
        same functions)."""
        points = factor_points(values)
        frequency = self.settings.frequency
        last = signals.last_engaged
        engaged = None
        if last is not None:
            days = round(days_since_engaged(signals) or 0)
            engaged = (last.ts, days, self._engaged_person(last, scope))
        lost, earned = points.engagement
        last_meeting = self.last_meeting[index]
        return explained(
            values,
            points,
            recency_explained(frequency, scope.name, engaged, values[0], *points.recency),
            frequency_explained(
                frequency, self.recent_engaged[index], values[1], *points.frequency
            ),
            (
                engagement_detail(signals),
                [
                    *self._unanswered(index, scope, lost),
                    *self._awaiting_our_reply(index, scope),
                    *self._skipped_meetings(index, scope, lost),
                    *reply_speed(
                        self.replies_by_them[index],
                        self.hours_by_them[index],
                        scope.name,
                        lost,
                        earned,
                    ),
                ],
            ),
            activity_mix_explained(
                signals.kind_volume,
                self._ts(last_meeting) if last_meeting >= 0 else None,
                self.last_call[index] >= 0,
                self.time.now_ts,
                (values[3], *points.activity_mix),
            ),
        )

    def unanswered_turns(self, index: int) -> list[tuple[float, int, int]]:
        """(started ts, messages, opener visit) of our turns left unanswered
        (explain.unanswered_turns)."""
        due = self.time.now_ts - UNANSWERED_AFTER_HOURS * HOUR_SECONDS
        last_engaged = self.now.last_engaged[index]
        silent_after = self._ts(last_engaged) if last_engaged >= 0 else float("-inf")
        book = self.book
        turns = []
        for k in range(self.open_from[index], self.open_from[index + 1]):
            started = float(book.open_started[k])
            if silent_after < started <= due:
                turns.append((started, int(book.open_messages[k]), int(book.open_opener[k])))
        return turns

    def _unanswered(self, index: int, scope: RecordScope, lost: float) -> list[Candidate]:
        waiting: dict[str, list[float]] = {}
        for started_ts, messages, opener in self.unanswered_turns(index):
            external = self.prepared(opener).interaction.external
            recipients = [p.ref for p in external if p.ref in scope.people] or [
                p.ref for p in external
            ]
            for ref in dict.fromkeys(recipients):
                entry = waiting.setdefault(self._name_in(ref, scope), [0, started_ts])
                entry[0] += messages
                entry[1] = min(entry[1], started_ts)
        return unanswered_reasons(waiting, lost)

    def _awaiting_candidates(self) -> set[int]:
        """Records with an email of one of their people that may await our reply."""
        book, now_ts = self.book, self.time.now_ts
        due = now_ts - UNANSWERED_AFTER_HOURS * HOUR_SECONDS
        stale = now_ts - AWAITING_REPLY_DAYS * DAY_SECONDS
        visits = book.visits
        ts = book.ts
        maybe = np.flatnonzero(
            book.history & (book.slot == EMAILS_RECEIVED) & (ts >= stale) & (ts <= due)
        )
        if len(maybe) == 0:
            return set()
        sets = self.columns.party_set[visits.position[maybe]]
        author = self.run.tables.author[self.run.tables.of(sets)]
        from scoring.columnar.visits import contains

        record = visits.record[maybe]
        mine = (author >= 0) & contains(visits.members, record * visits.people_count + author)
        return set(np.unique(record[mine]).tolist())

    def _awaiting_our_reply(self, index: int, scope: RecordScope) -> list[Candidate]:
        if index not in self._awaiting:
            return []
        now_ts = self.time.now_ts
        due = now_ts - UNANSWERED_AFTER_HOURS * HOUR_SECONDS
        stale = now_ts - AWAITING_REPLY_DAYS * DAY_SECONDS
        people = scope.people
        heard_from_us: set[RecordRef] = set()
        waiting: dict[RecordRef, list[float]] = {}
        start = self.visit_from[index]
        visit = self.visit_from[index + 1] - 1
        ts = self.visit_ts[start : visit + 1].tolist()
        planned = self.book.planned[start : visit + 1].tolist()
        slot = self.book.slot[start : visit + 1].tolist()
        tables = self.run.tables
        sets = self.columns.party_set[self.position[start : visit + 1]]
        authors = tables.author[tables.of(sets)].tolist()
        while visit >= start and ts[visit - start] > now_ts:
            visit -= 1
        while visit >= start:
            at = ts[visit - start]
            current = visit
            visit -= 1
            if at < stale:
                break
            if planned[current - start]:
                continue
            kind = slot[current - start]
            if kind == EMAILS_RECEIVED:
                code = authors[current - start]
                author = self.refs[code] if code >= 0 else None
                if author is None or author not in people or author in heard_from_us:
                    continue
                if at <= due:
                    entry = waiting.setdefault(author, [0, at])
                    entry[0] += 1
                    entry[1] = at
            elif kind != TASKS:
                position = int(self.position[current])
                code = int(self.columns.party_set[position])
                if code >= 0:
                    heard_from_us.update(p.ref for p in self.columns.sets.external[code])
        return awaiting_reasons(
            [(self._name_in(person, scope), entry) for person, entry in waiting.items()]
        )

    def invitations(self, index: int) -> list[tuple[RecordRef, Response]]:
        refs = self.refs
        start, end = self.invitation_from[index], self.invitation_from[index + 1]
        people = self.invitation_person[start:end]
        responses = self.invitation_response[start:end]
        return [
            (refs[person], _response(code)) for person, code in zip(people, responses, strict=True)
        ]

    def _skipped_meetings(self, index: int, scope: RecordScope, lost: float) -> list[Candidate]:
        answers: dict[RecordRef, list[Response]] = {}
        for person, response in self.invitations(index):
            answers.setdefault(person, []).append(response)
        return skipped_meetings(answers, lambda person: self._name_in(person, scope), lost)

    def _engaged_person(self, row: PreparedInteraction, scope: RecordScope) -> str:
        people = scope.people
        if len(people) == 1:
            [person] = people
            return self._name_in(person, scope)
        external = row.interaction.external
        ours = [p for p in external if p.ref in people and p.role in (_FROM, _ORGANIZER)]
        ours = ours or [p for p in external if p.ref in people]
        return self._name_in(ours[0].ref, scope) if ours else scope.name

    def _name_in(self, ref: RecordRef, scope: RecordScope) -> str:
        name = self.names.get(ref)
        if name:
            return name
        if ref == scope.record:
            return scope.name
        return ref.type + " " + ref.id

    def _name(self, person: RecordRef) -> str:
        return self.names.get(person) or person.type + " " + person.id

    # -- deals and accounts (scoring.pipeline.RecordScorer._rolled_up) ---------------

    def reading(self, person: RecordRef) -> PersonReading:
        index = self.people[person]
        reading = self.readings.get(index)
        if reading is None:
            broken = self.book.visits.broken.get(index)
            if broken is not None:
                raise self.columns.broken[broken][1]
            now, before = self.readings_of(index, None)
            last_engaged, last = self.now.last_engaged[index], self.now.last[index]
            reading = self.readings[index] = PersonReading(
                now.score,
                before.score,
                self._ts(last_engaged) if last_engaged >= 0 else None,
                self._ts(last) if last >= 0 else None,
            )
        return reading

    def silence(self, person: RecordRef) -> Silence:
        index = self.people[person]
        unanswered = 0
        since_ts: float | None = None
        for started_ts, messages, _ in self.unanswered_turns(index):
            unanswered += messages
            since_ts = started_ts if since_ts is None else min(since_ts, started_ts)
        last = [response for _, response in self.invitations(index)][-LAST_INVITATIONS:]
        skipped = sum(1 for response in last if response in _SKIPPED)
        return Silence(unanswered, since_ts, skipped, len(last))

    def rolled_up(
        self,
        scope: RecordScope,
        pooled: Reading,
        pooled_before: Reading,
        kpis: Kpis,
        factors: tuple[Factor, ...],
        reasons: tuple[str, ...],
    ) -> RecordHealth:
        return rolled_up_health(
            scope,
            pooled,
            pooled_before,
            kpis,
            (factors, reasons),
            PersonViews(self.reading, self.silence, self._name),
            self.settings,
            self.time.now_ts,
        )


def _response(code: int) -> Response:
    response = RESPONSES[code]
    assert response is not None  # invitations carry an answer
    return response


def _mean(total: float, count: int) -> float | None:
    return total / count if count else None
