"""Every per-record figure of scoring.tally, for a group of records at once, over columns.

scoring.tally makes one pass per record; here each figure is one vectorised
operation over all (record, interaction) visits (visits.py), which are sorted
by record and then by time: sums by record (by_record.py), who took part
(participation.py), the turns and replies of conversations (turns.py), the
factor inputs now and at the trend's moment (signals.py) and the figures only
the KPIs read (kpi_sums.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.columnar.by_record import (
    counts,
    first_where,
    last_of_each,
    last_where,
    totals,
    weighted,
)
from scoring.columnar.columns import (
    CALL,
    EMAIL,
    MEETING,
    Bools,
    Floats,
    InteractionColumns,
    Ints,
)
from scoring.columnar.kpi_sums import minutes, most_contacted, timeline
from scoring.columnar.participation import participation
from scoring.columnar.party_tables import SetTables
from scoring.columnar.signals import Reading, VisitFigures, readings
from scoring.columnar.turns import Turns, email_turns
from scoring.columnar.visits import Visits
from scoring.model import Kind
from scoring.prepared import _DECAY_RATE, DAY_SECONDS, SLOTS, TASKS, ScoringTime

# Slot code by kind * 2 + inbound (scoring.prepared's slots; a task is one slot).
_SLOT_OF = np.array([0, 1, 2, 3, 4, 5, TASKS, TASKS], dtype=np.int8)


@dataclass
class BookTally:
    """scoring.tally's figures for every record of a book (arrays by record). The
    persons a group reads for its roll-ups, after its scopes, have their readings
    (`now`, `before`), `latest` and their turns and invitations; the KPIs and the
    figures only reasons quote are made for the scopes alone (zero or -1 for them)."""

    records: int
    visits: Visits
    # Per visit.
    ts: Floats
    slot: npt.NDArray[np.int8]  # scoring.prepared slot codes
    planned: Bools  # planned at or before now: neither history nor next
    history: Bools  # at or before now and not planned
    held: Bools  # history that happened with the record's people (not "in the loop")
    engaged: Bools
    # Per record.
    now: Reading
    before: Reading
    counts: Ints  # (records, SLOTS)
    timeline: Ints  # (records, TIMELINE_OFF): each week's four counts
    team_minutes: Floats
    customer_minutes: Floats
    opens: Ints
    clicks: Ints
    upcoming: Ints  # visit index of the earliest interaction after now, -1: none
    latest: Ints  # visit index of the record's latest interaction of any kind, -1: none
    last_meeting: Ints  # visit index of the latest held meeting, -1: none
    last_call: Ints
    recent_engaged: Ints  # engaged interactions in the last explain.RECENT_DAYS days
    threaded: Ints  # (records, 2): ours, theirs
    in_the_loop: Ints
    replies_by_us: Ints
    replies_by_them: Ints
    answered_by_us: Ints
    answered_by_them: Ints
    hours_by_us: Floats
    hours_by_them: Floats
    # Turns still open at now: (record, started ts, messages, opener visit), ours only.
    open_record: Ints
    open_started: Floats
    open_messages: Ints
    open_opener: Ints
    # Our meeting invitations with an answer: (record, visit, person, response code),
    # in the order the pass meets them.
    invitation_record: Ints
    invitation_visit: Ints
    invitation_person: Ints
    invitation_response: Ints
    # most contacted: (record, user code, count), each record's top three first.
    contacted_record: Ints
    contacted_user: Ints
    contacted_count: Ints


def tally_book(
    columns: InteractionColumns,
    tables: SetTables,
    visits: Visits,
    records: int,
    settings_weights: dict[Kind, float],
    time: ScoringTime,
    tracked: Bools,
) -> BookTally:
    """The group's figures; `tracked`: by position, the interactions with email opens
    or clicks recorded (kpi_sums.tracked_interactions)."""
    # Arrays the length of the visits (millions) are the run's memory: each is
    # dropped (del) as soon as what needs it is summed, and codes are kept small.
    record, position = visits.record, visits.position
    # The KPIs and the figures only reasons quote are the scopes' alone: they are made
    # over the scopes' visits, the first `scoped` (views, no copy). The persons read
    # for roll-ups after them need only their readings and silences.
    scoped = visits.scoped
    kind_of = np.take(columns.kind, position).astype(np.int8, copy=False)
    inbound = np.take(columns.inbound, position)
    # Per visit, as scoring.prepared computes it per interaction (each value is
    # the interaction's own: the same elementwise arithmetic on the same inputs).
    ts = np.take(columns.ts_us, position) / 1_000_000
    now_ts = time.now_ts
    weight = _weights(ts, kind_of, settings_weights, now_ts)
    slot = _SLOT_OF[kind_of * 2 + inbound]
    seen = ts <= now_ts
    planned = np.take(columns.planned, position) & seen
    history = seen & ~planned
    set_of = np.take(columns.party_set, position)
    contacted = most_contacted(record[:scoped], set_of[:scoped], history[:scoped], tables)
    taking_part = participation(visits, tables, kind_of, inbound, set_of, history, weight)
    held, engaged, loop = taking_part.held, taking_part.engaged, taking_part.loop

    conversation = np.take(columns.conversation, position)
    has_thread = conversation >= 0
    email = kind_of == EMAIL
    turns = email_turns(
        np.flatnonzero(held & email & has_thread),
        record,
        conversation,
        len(columns.conversations),
        inbound,
        ts,
        weight,
        scoped,
    )
    del conversation
    figures = VisitFigures(
        record, ts, slot, weight, history, email & ~inbound & has_thread, records
    )
    now_reading, before_reading = readings(figures, taking_part, turns, now_ts, time.trend_ts)
    del figures, email
    in_the_loop = counts(record[:scoped], loop[:scoped] & has_thread[:scoped], records)
    del has_thread, weight

    # KPIs, over the scopes' history visits only.
    past = np.flatnonzero(history[:scoped])
    past_record, past_slot = record[past], slot[past]
    slot_counts = np.bincount(past_record * SLOTS + past_slot, minlength=records * SLOTS).reshape(
        records, SLOTS
    )
    weekly = timeline(record[:scoped], slot[:scoped], ts[:scoped], history[:scoped], time, records)
    past_position = position[past]
    team_minutes, customer_minutes = minutes(
        past_slot, past_position, set_of[past], columns, tables
    )
    del set_of
    with_tracking = np.flatnonzero(np.take(tracked, past_position))
    opened = past_position[with_tracking]
    upcoming = first_where(record[:scoped], ~seen[:scoped], records)
    recent = engaged[:scoped] & history[:scoped] & (ts[:scoped] > now_ts - 30 * DAY_SECONDS)
    meetings_held, calls_held = (
        held[:scoped] & (kind_of[:scoped] == kind) for kind in (MEETING, CALL)
    )
    replies = _Replies(turns, records)
    return BookTally(
        records=records,
        visits=visits,
        ts=ts,
        slot=slot,
        planned=planned,
        history=history,
        held=held,
        engaged=engaged,
        now=now_reading,
        before=before_reading,
        counts=slot_counts,
        timeline=weekly,
        team_minutes=weighted(past_record, team_minutes, records),
        customer_minutes=weighted(past_record, customer_minutes, records),
        opens=totals(past_record[with_tracking], columns.opens, opened, records),
        clicks=totals(past_record[with_tracking], columns.clicks, opened, records),
        upcoming=upcoming,
        latest=last_of_each(record, records),
        last_meeting=last_where(record[:scoped], meetings_held, records),
        last_call=last_where(record[:scoped], calls_held, records),
        recent_engaged=counts(record[:scoped], recent, records),
        threaded=_threaded(turns, record, records),
        in_the_loop=in_the_loop,
        replies_by_us=replies.count(replies.us),
        replies_by_them=replies.count(replies.them),
        answered_by_us=replies.answered(replies.us),
        answered_by_them=replies.answered(replies.them),
        hours_by_us=replies.hours(replies.us),
        hours_by_them=replies.hours(replies.them),
        open_record=turns.record[turns.open_ours],
        open_started=turns.started[turns.open_ours],
        open_messages=turns.messages[turns.open_ours],
        open_opener=turns.opener[turns.open_ours],
        invitation_record=record[taking_part.invitation_visit],
        invitation_visit=taking_part.invitation_visit,
        invitation_person=taking_part.invitation_person,
        invitation_response=taking_part.invitation_response,
        contacted_record=contacted[0],
        contacted_user=contacted[1],
        contacted_count=contacted[2],
    )


def _weights(
    ts: Floats, kind: npt.NDArray[np.int8], settings_weights: dict[Kind, float], now_ts: float
) -> Floats:
    """Each visit's influence weight x decay as of now (0 after now)."""
    age = ts - now_ts
    kind_weight = np.array(
        [settings_weights[kind] for kind in (Kind.EMAIL, Kind.MEETING, Kind.CALL, Kind.TASK)]
    )
    decay = np.exp(_DECAY_RATE * np.minimum(age, 0.0))
    weight: Floats = np.where(age <= 0, kind_weight[kind] * decay, 0.0)
    return weight


def _threaded(turns: Turns, record: Ints, records: int) -> Ints:
    """(records, 2): the scopes' threaded emails, ours and theirs."""
    side = np.zeros((records, 2), dtype=np.int64)
    email, inbound = turns.email[: turns.scoped], turns.inbound[: turns.scoped]
    side[:, 0] = np.bincount(record[email[~inbound]], minlength=records)
    side[:, 1] = np.bincount(record[email[inbound]], minlength=records)
    return side


class _Replies:
    """The replies' KPIs by record, for one side (`us` or `them`)."""

    def __init__(self, turns: Turns, records: int) -> None:
        self.turns, self.records = turns, records
        self.them = turns.by_them
        self.us = ~turns.by_them

    def count(self, side: Bools) -> Ints:
        found: Ints = np.bincount(self.turns.reply_record[side], minlength=self.records)
        return found

    def answered(self, side: Bools) -> Ints:
        """The emails of the turns answered."""
        turns = self.turns
        messages = turns.messages[turns.answered[side]]
        return weighted(turns.reply_record[side], messages, self.records).astype(np.int64)

    def hours(self, side: Bools) -> Floats:
        return weighted(self.turns.reply_record[side], self.turns.hours[side], self.records)
