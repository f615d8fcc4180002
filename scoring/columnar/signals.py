"""Every record's factor inputs now and at the trend's moment (scoring.tally.Signals).

The trend's "before" reading is the same sums over the visits dated at or
before its moment. Visits are sorted by record and then by time, so a
record's visits up to that moment come before its later ones: each sum is
made once over the earlier visits (the before reading) and then carried on
over the later ones into a copy (`np.add.at` adds in order, as `bincount`
does), which is the very left-to-right sum the now reading would make from
the start. Counts, last visits, replies and meetings' acceptance carry on the
same way, and so does the now reading's silence; only the before reading's
silence, which depends on the customer's last part as of the trend's moment,
is made apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.columnar.by_record import last_at, weighted
from scoring.columnar.columns import Bools, Floats, Ints
from scoring.columnar.participation import Participation
from scoring.columnar.turns import Turns
from scoring.prepared import DAY_SECONDS, SLOTS
from scoring.tally import RECENT_WINDOW_DAYS


@dataclass
class Reading:
    """A record's factor inputs as of one moment (scoring.tally.Signals), by record."""

    volume: Floats  # (records, SLOTS): held interactions, decayed and weighted
    loop_volume: Floats
    engaged_volume: Floats
    last_engaged: Ints  # visit index, -1: never
    asked: Floats
    replied: Floats
    reply_credit: Floats
    silent: Floats
    acceptance_sum: Floats
    acceptance_weight: Floats
    completed: Ints
    recent_completed: Ints
    last: Ints  # visit index of the latest completed interaction, -1: none


@dataclass
class VisitFigures:
    """What the readings read per visit: its record, time, slot and weight as of now."""

    record: Ints
    ts: Floats
    slot: npt.NDArray[np.int8]
    weight: Floats
    history: Bools
    ours_threaded: Bools  # our emails in a conversation
    records: int


class _Split:
    """The entries of a mask (visits, replies, meetings) up to the trend's moment and
    those after it, with their records (each gathered once); `upto`, `after`: which
    entries are dated up to it and which after. Within a record the earlier entries
    come first."""

    def __init__(self, mask: Bools, record: Ints, upto: Bools, after: Bools) -> None:
        self.before, self.after = np.flatnonzero(mask & upto), np.flatnonzero(mask & after)
        self.before_record, self.after_record = record[self.before], record[self.after]

    def sums(self, values: Floats, bins: int) -> tuple[Floats, Floats]:
        """(now, before) sums of the entries' `values` by record."""
        return self.kept_sums(values[self.before], values[self.after], None, None, bins)

    def kept_sums(
        self,
        before: Floats,
        after: Floats,
        keep_before: Bools | None,
        keep_after: Bools | None,
        bins: int,
    ) -> tuple[Floats, Floats]:
        """(now, before) sums by record of the values `before` and `after` (of the
        entries up to the moment and after it), of those kept when a mask is given."""
        before_record, after_record = self.before_record, self.after_record
        if keep_before is not None:
            before, before_record = before[keep_before], before_record[keep_before]
        if keep_after is not None:
            after, after_record = after[keep_after], after_record[keep_after]
        return _carried(weighted(before_record, before, bins), after_record, after)

    def counts(self, records: int) -> tuple[Ints, Ints]:
        """(now, before) counts by record (integers: exact in any order)."""
        before = np.bincount(self.before_record, minlength=records)
        return before + np.bincount(self.after_record, minlength=records), before

    def last(self, records: int) -> tuple[Ints, Ints]:
        """(now, before) index of each record's last entry, -1: none."""
        before = last_at(self.before_record, self.before, records)
        now = before.copy()
        now[self.after_record] = self.after  # later writes win: the last one stays
        return now, before


Pair = tuple[Floats, Floats]  # (now, before)


def _carried(before: Floats, key: Ints, values: Floats) -> Pair:
    """(now, before): the sums `before` carried on in order over the later entries'
    `values` by `key` (np.add.at adds in order: each sum is the same left-to-right
    sum the now reading would make from the start)."""
    now = before.copy()
    np.add.at(now, key, values)
    return now, before


def readings(
    visits: VisitFigures,
    taking_part: Participation,
    turns: Turns,
    now_ts: float,
    trend_ts: float,
) -> tuple[Reading, Reading]:
    """(the reading now, the reading at `trend_ts`)."""
    record, weight, slot, records = visits.record, visits.weight, visits.slot, visits.records
    upto = visits.ts <= trend_ts
    after = ~upto
    held = _Split(taking_part.held, record, upto, after)
    volume = _carried(
        weighted(
            held.before_record * SLOTS + slot[held.before], weight[held.before], records * SLOTS
        ),
        held.after_record * SLOTS + slot[held.after],
        weight[held.after],
    )
    del held
    loop_volume = _Split(taking_part.loop, record, upto, after).sums(weight, records)
    engaged = _Split(taking_part.engaged, record, upto, after)
    engaged_volume, last_engaged = engaged.sums(weight, records), engaged.last(records)
    del engaged
    history = _Split(visits.history, record, upto, after)
    completed, last = history.counts(records), history.last(records)
    recent = _recent_completed(visits, history, now_ts, trend_ts)
    del history
    asked, silent = _asked_and_silent(visits, taking_part, last_engaged, upto, after)
    replied, reply_credit = _replied(turns, trend_ts, records)
    acceptance_sum, acceptance_weight = _acceptance(visits, taking_part, upto)

    def reading(at: int) -> Reading:
        """The reading now (`at` 0) or at the trend's moment (1)."""
        return Reading(
            volume=volume[at].reshape(records, SLOTS),
            loop_volume=loop_volume[at],
            engaged_volume=engaged_volume[at],
            last_engaged=last_engaged[at],
            asked=asked[at],
            replied=replied[at],
            reply_credit=reply_credit[at],
            silent=silent[at],
            acceptance_sum=acceptance_sum[at],
            acceptance_weight=acceptance_weight[at],
            completed=completed[at],
            recent_completed=recent[at],
            last=last[at],
        )

    return reading(0), reading(1)


def _asked_and_silent(
    visits: VisitFigures,
    taking_part: Participation,
    last_engaged: tuple[Ints, Ints],
    upto: Bools,
    after: Bools,
) -> tuple[Pair, Pair]:
    """The weight of our held emails in a conversation (asked), and of those sent
    after the customer last took part as of each moment (silent)."""
    records = visits.records
    asked = _Split(taking_part.held & visits.ours_threaded, visits.record, upto, after)
    before, later = visits.weight[asked.before], visits.weight[asked.after]
    engaged_now, engaged_before = last_engaged
    silent_now = asked.kept_sums(
        before,
        later,
        asked.before > engaged_now[asked.before_record],
        asked.after > engaged_now[asked.after_record],
        records,
    )[0]
    keep = asked.before > engaged_before[asked.before_record]
    silent_before = weighted(asked.before_record[keep], before[keep], records)
    return asked.kept_sums(before, later, None, None, records), (silent_now, silent_before)


def _replied(turns: Turns, trend_ts: float, records: int) -> tuple[Pair, Pair]:
    """Our turns' weight answered by them, and their reply credits."""
    upto = turns.reply_ts <= trend_ts
    replies = _Split(turns.by_them, turns.reply_record, upto, ~upto)
    return replies.sums(turns.turn_weight, records), replies.sums(turns.credit, records)


def _acceptance(visits: VisitFigures, taking_part: Participation, upto: Bools) -> tuple[Pair, Pair]:
    """Meetings' acceptance (weight x acceptance / attendees) and weight."""
    meeting = taking_part.acceptance_visit
    dated = upto[meeting]
    meetings = _Split(np.ones(len(meeting), np.bool_), visits.record[meeting], dated, ~dated)
    return (
        meetings.sums(taking_part.acceptance_value, visits.records),
        meetings.sums(visits.weight[meeting], visits.records),
    )


def _recent_completed(
    visits: VisitFigures, history: _Split, now_ts: float, trend_ts: float
) -> tuple[Ints, Ints]:
    """(now, before): each record's completed interactions in the RECENT_WINDOW_DAYS
    before each moment."""
    window = RECENT_WINDOW_DAYS * DAY_SECONDS
    before_ts, after_ts = visits.ts[history.before], visits.ts[history.after]
    records = visits.records
    now = np.bincount(
        history.before_record[before_ts > now_ts - window], minlength=records
    ) + np.bincount(history.after_record[after_ts > now_ts - window], minlength=records)
    before = np.bincount(history.before_record[before_ts > trend_ts - window], minlength=records)
    return now, before
