"""Every record's factor inputs now and at the trend's moment (scoring.tally.Signals).

The trend's "before" reading is the same sums over the visits dated at or
before its moment. Visits are sorted by record and then by time, so a
record's visits up to that moment come before its later ones: each sum is
made once over the earlier visits (the before reading) and then carried on
over the later ones into a copy (`np.add.at` adds in order, as `bincount`
does), which is the very left-to-right sum the now reading would make from
the start. Counts and last visits carry on the same way; what depends on the
moment through the customer's last part (silences) or is small (replies,
meetings' acceptance) is made for each reading apart.
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
    """The visits of a mask up to the trend's moment and those after it, with their
    records (each gathered once)."""

    def __init__(self, mask: Bools, record: Ints, upto: Bools, after: Bools) -> None:
        self.before, self.after = np.flatnonzero(mask & upto), np.flatnonzero(mask & after)
        self.before_record, self.after_record = record[self.before], record[self.after]

    def sums(self, weight: Floats, bins: int) -> tuple[Floats, Floats]:
        """(now, before) sums of `weight` by record."""
        return _carried(
            weighted(self.before_record, weight[self.before], bins),
            self.after_record,
            weight[self.after],
        )

    def counts(self, records: int) -> tuple[Ints, Ints]:
        """(now, before) counts by record (integers: exact in any order)."""
        before = np.bincount(self.before_record, minlength=records)
        return before + np.bincount(self.after_record, minlength=records), before

    def last(self, records: int) -> tuple[Ints, Ints]:
        """(now, before) index of each record's last visit, -1: none."""
        before = last_at(self.before_record, self.before, records)
        now = before.copy()
        now[self.after_record] = self.after  # later writes win: the last one stays
        return now, before


def _carried(before: Floats, key: Ints, weight: Floats) -> tuple[Floats, Floats]:
    """(now, before): the sums `before` carried on in order over the later visits'
    `weight` by `key` (np.add.at adds in order, each sum the same left-to-right sum)."""
    now = before.copy()
    np.add.at(now, key, weight)
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
    asked = np.flatnonzero(taking_part.held & visits.ours_threaded)

    def reading(at: int, as_of_ts: float, dated: Bools | None) -> Reading:
        """The reading `at` 0 (now) or 1 (the trend's moment, the visits `dated` up to it)."""
        asked_at = asked if dated is None else asked[dated[asked]]
        silent = asked_at[asked_at > last_engaged[at][record[asked_at]]]
        acceptance = taking_part.acceptance_visit
        accepted = taking_part.acceptance_value
        if dated is not None:
            kept = dated[acceptance]
            acceptance, accepted = acceptance[kept], accepted[kept]
        replied = turns.by_them if dated is None else turns.by_them & (turns.reply_ts <= as_of_ts)
        return Reading(
            volume=volume[at].reshape(records, SLOTS),
            loop_volume=loop_volume[at],
            engaged_volume=engaged_volume[at],
            last_engaged=last_engaged[at],
            asked=weighted(record[asked_at], weight[asked_at], records),
            replied=weighted(turns.reply_record[replied], turns.turn_weight[replied], records),
            reply_credit=weighted(turns.reply_record[replied], turns.credit[replied], records),
            silent=weighted(record[silent], weight[silent], records),
            acceptance_sum=weighted(record[acceptance], accepted, records),
            acceptance_weight=weighted(record[acceptance], weight[acceptance], records),
            completed=completed[at],
            recent_completed=recent[at],
            last=last[at],
        )

    return reading(0, now_ts, None), reading(1, trend_ts, upto)


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
