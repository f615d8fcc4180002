"""One pass over a record's interactions: every figure scoring needs.

KPIs, the factor inputs as of now and as of the trend's "before" moment, and
the facts the reasons quote all come out of this single chronological pass.
The "before" reading needs no second pass: interactions are sorted, so it is a
snapshot (`Signals`) taken when the pass crosses that moment. Time decays are
computed as of now; the snapshot rescales volumes by `volume_scale`, and the
two-way ratios are unchanged by a common rescale.
"""

from __future__ import annotations

from bisect import bisect_right
from operator import itemgetter
from typing import NamedTuple

from scoring.model import Interaction, Kind, RecordRef, RecordScope, Response, Role
from scoring.prepared import (
    CALLS_MADE,
    CALLS_RECEIVED,
    DAY_SECONDS,
    DECAY_HALF_LIFE_DAYS,
    EMAILS_RECEIVED,
    EMAILS_SENT,
    MEETINGS_RECEIVED,
    MEETINGS_SENT,
    SLOTS,
    SLOTS_OF_KIND,
    TASKS,
    TIMELINE_OFF,
    PreparedInteraction,
    ScoringTime,
)
from scoring.threads import TURN_INBOUND, TURN_MESSAGES, TURN_WEIGHT, Threads

# The "enough information" rule (see health.py) looks this far back.
RECENT_WINDOW_DAYS = 90

# How much a meeting answer says about the customer's engagement. Not
# answering an invitation is read like declining it: both leave us without a
# confirmed meeting.
ACCEPTANCE: dict[Response, float] = {
    Response.ACCEPTED: 1.0,
    Response.TENTATIVE: 0.5,
    Response.DECLINED: 0.0,
    Response.NONE: 0.0,
}
# Invitees who (probably) took part, by their answer (a CRM appointment has
# no answers: it was completed, so they were there).
_PRESENT: frozenset[Response] = frozenset({Response.ACCEPTED, Response.TENTATIVE})
_ORGANIZER = Role.ORGANIZER

_ts = itemgetter(1)


class Signals(NamedTuple):
    """A record's factor inputs as of one moment."""

    as_of_ts: float
    volume_scale: float  # decays were computed as of now: rescale to as_of
    kind_volume: tuple[float, ...]  # decayed, weighted: emails, meetings, calls, tasks
    engaged_volume: float  # decayed, weighted volume the customer took part in
    # Emails only: who writes to whom. Meetings have their own signal (the
    # answers), and weighting them up must not make a relationship look one-way.
    outbound_volume: float
    inbound_volume: float
    last_engaged: PreparedInteraction | None
    asked_weight: float
    answered_weight: float
    acceptance_sum: float
    acceptance_weight: float
    completed: int
    recent_completed: int
    last_completed_ts: float | None


class Invitation(NamedTuple):
    """One person's answer to one of our meeting invitations."""

    ts: float
    person: RecordRef
    response: Response


class Tally:
    """Running figures of one record (see the module docstring)."""

    def __init__(self, people: frozenset[RecordRef]) -> None:
        self.people = people
        self.counts = [0] * SLOTS
        self.volume = [0.0] * SLOTS  # decayed, weighted
        self.last_at: list[float | None] = [None] * SLOTS
        self.timeline = [0] * (TIMELINE_OFF + 1)
        self.team_minutes = 0.0
        self.customer_minutes = 0.0
        self.opens = 0
        self.clicks = 0
        self.overdue_ts: list[float] = []  # planned at or before now: not history
        self.contacted: list[str] = []
        self.last: PreparedInteraction | None = None
        self.last_engaged: PreparedInteraction | None = None
        # Interactions the customer took part in: their volume is the
        # relationship's frequency (our unanswered outreach is not contact).
        self.engaged_volume = 0.0
        self.engaged_ts: list[float] = []
        self.threads = Threads()
        self.invitations: list[Invitation] = []
        self.acceptance_sum = 0.0
        self.acceptance_weight = 0.0
        # Inbound emails that copied the record's people but were written by
        # someone else (see add): only the email channel's presence.
        self.loop_volume = 0.0

    def add(self, rows: list[PreparedInteraction]) -> None:
        """Count completed interactions, oldest first.

        The hot loop of a scoring run: it runs once per (interaction, record)
        pair, so it keeps its running figures in locals, updates each
        conversation's open turn in place, and leaves the rarer cases (our
        meeting invitations, replies) to methods.
        """
        counts, volume, last_at, timeline = self.counts, self.volume, self.last_at, self.timeline
        contacted, engaged_ts, overdue_ts = self.contacted, self.engaged_ts, self.overdue_ts
        threads = self.threads
        turns, threaded = threads.turns, threads.threaded
        team_minutes, customer_minutes = self.team_minutes, self.customer_minutes
        opens, clicks, engaged_volume = self.opens, self.clicks, self.engaged_volume
        last, last_engaged = self.last, self.last_engaged
        people = self.people
        asked, silent = threads.asked_weight, threads.silent_weight
        for row in rows:
            (
                interaction,
                ts,
                weight,
                slot,
                week_slot,
                inbound,
                team_min,
                customer_min,
                engaged,
                conversation_id,
                internal_ids,
                row_opens,
                row_clicks,
                planned,
                author,
            ) = row
            if planned:
                overdue_ts.append(ts)
                continue
            last = row
            counts[slot] += 1
            timeline[week_slot] += 1
            team_minutes += team_min
            customer_minutes += customer_min
            opens += row_opens
            clicks += row_clicks
            contacted.extend(internal_ids)
            if engaged is None:
                if slot == EMAILS_RECEIVED:
                    engaged = author in people or self._wrote_about_record(interaction, author)
                    if not engaged:
                        # In the loop, not their writing: a weak presence
                        # signal (the email channel of the activity mix),
                        # never their reply, their recency or their volume.
                        self.loop_volume += weight
                        threads.in_the_loop += conversation_id is not None
                        continue
                else:
                    held, engaged = self._meeting(interaction, ts, weight, slot == MEETINGS_SENT)
                    if not held:  # declined or ignored: it did not happen with them
                        continue
            volume[slot] += weight
            last_at[slot] = ts
            if conversation_id is not None:
                threaded[inbound] += 1
                if not inbound:
                    asked += weight
                    silent += weight
                turn = turns.get(conversation_id)
                if turn is None:
                    turns[conversation_id] = [inbound, ts, 1, weight, row]
                elif turn[TURN_INBOUND] == inbound:
                    turn[TURN_MESSAGES] += 1
                    turn[TURN_WEIGHT] += weight
                else:
                    threads.reply(turn, inbound, ts, weight, row)
            if engaged:
                last_engaged = row
                engaged_volume += weight
                engaged_ts.append(ts)
                silent = 0.0  # see Threads.silent_weight
        self.team_minutes, self.customer_minutes = team_minutes, customer_minutes
        self.opens, self.clicks, self.engaged_volume = opens, clicks, engaged_volume
        self.last, self.last_engaged = last, last_engaged
        threads.asked_weight, threads.silent_weight = asked, silent

    def _wrote_about_record(self, interaction: Interaction, author: RecordRef | None) -> bool:
        """An email whose writer is none of the record's people still engaged the
        record when it reached the record only through its regarding (none of the
        record's people is on it): someone of theirs wrote about this record."""
        if author is None:
            return False  # the writer matched no CRM record: not one of them
        people = self.people
        return not any(party.ref in people for party in interaction.external)

    def _meeting(
        self, interaction: Interaction, ts: float, weight: float, ours: bool
    ) -> tuple[bool, bool]:
        """(held, engaged) of a meeting, from what the record's people did about it.

        Our meeting: the answers of the record's invitees. Theirs: held when one
        of the record's people organised it or did not decline it. Either way a
        person who attended or organised it engaged, and the meeting enters the
        meetings part of engagement: an answer reads ACCEPTANCE, organising or
        attending a completed CRM appointment (no answers) reads 1.
        """
        people = self.people
        external = interaction.external
        # The record's people among the invitees; everyone if none of them is
        # (a meeting reached through its regarding record).
        attendees = [party for party in external if party.ref in people] or external
        if not attendees:
            return True, False  # an internal meeting about the record
        engaged = False
        acceptance = 0.0
        for party in attendees:
            response = party.response
            if response is None or (not ours and party.role == _ORGANIZER):
                # A completed CRM appointment (no answers: they were there), or
                # the organiser of their own meeting.
                engaged = True
                acceptance += 1.0
                continue
            if response in _PRESENT:
                engaged = True
            acceptance += ACCEPTANCE[response]
            if ours:
                # tuple.__new__, not Invitation._make: _make is a Python-level
                # classmethod, a fifth of a second per share of the 1M benchmark.
                self.invitations.append(tuple.__new__(Invitation, (ts, party.ref, response)))
        self.acceptance_sum += weight * acceptance / len(attendees)
        self.acceptance_weight += weight
        return engaged, engaged

    def last_of(self, kind: Kind) -> float | None:
        """When the latest completed interaction of this kind happened."""
        latest = None
        for slot in SLOTS_OF_KIND[kind]:
            ts = self.last_at[slot]
            if ts is not None and (latest is None or ts > latest):
                latest = ts
        return latest

    def signals(
        self, rows: list[PreparedInteraction], up_to: int, as_of_ts: float, now_ts: float
    ) -> Signals:
        """The reading as of `as_of_ts`; `rows[:up_to]` are those at or before it."""
        volume, threads, overdue = self.volume, self.threads, self.overdue_ts
        recent_from = as_of_ts - RECENT_WINDOW_DAYS * DAY_SECONDS
        recent_rows = up_to - bisect_right(rows, recent_from, hi=up_to, key=_ts)
        recent_overdue = len(overdue) - bisect_right(overdue, recent_from)
        # tuple.__new__ skips the NamedTuple's Python-level __new__.
        return tuple.__new__(
            Signals,
            (
                as_of_ts,
                2.0 ** ((now_ts - as_of_ts) / (DECAY_HALF_LIFE_DAYS * DAY_SECONDS)),
                (
                    volume[EMAILS_SENT] + volume[EMAILS_RECEIVED] + self.loop_volume,
                    volume[MEETINGS_SENT] + volume[MEETINGS_RECEIVED],
                    volume[CALLS_MADE] + volume[CALLS_RECEIVED],
                    volume[TASKS],
                ),
                self.engaged_volume,
                volume[EMAILS_SENT],
                volume[EMAILS_RECEIVED],
                self.last_engaged,
                threads.asked_weight,
                threads.answered_weight,
                self.acceptance_sum,
                self.acceptance_weight,
                up_to - len(overdue),
                recent_rows - recent_overdue,
                self.last.ts if self.last is not None else None,
            ),
        )


class RecordTally(NamedTuple):
    """A finished pass: the running figures plus the two readings."""

    tally: Tally
    now: Signals
    before: Signals
    upcoming: PreparedInteraction | None  # the earliest interaction after now
    has_rows: bool
    rows: list[PreparedInteraction]  # the record's interactions, oldest first
    end: int  # rows[:end] are at or before now


def tally_record(
    scope: RecordScope, rows: list[PreparedInteraction], time: ScoringTime
) -> RecordTally:
    """Rows must be the record's interactions, oldest first."""
    end = bisect_right(rows, time.now_ts, key=_ts)
    split = bisect_right(rows, time.trend_ts, hi=end, key=_ts)
    tally = Tally(scope.people)
    if split:
        tally.add(rows[:split])
    before = tally.signals(rows, split, time.trend_ts, time.now_ts)
    if end > split:
        tally.add(rows[split:end])
    now = tally.signals(rows, end, time.now_ts, time.now_ts)
    upcoming = rows[end] if end < len(rows) else None
    return tuple.__new__(RecordTally, (tally, now, before, upcoming, bool(rows), rows, end))
