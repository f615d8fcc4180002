"""The figures only the KPIs read, over a group's visits: time spent, the 13-week
timeline and each record's most contacted colleagues (scoring.kpis).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scoring.columnar.by_record import run_starts
from scoring.columnar.columns import Bools, Floats, InteractionColumns, Ints
from scoring.columnar.party_tables import SetTables
from scoring.columnar.visits import expand
from scoring.prepared import (
    EMAIL_READ_MINUTES,
    EMAIL_WRITE_MINUTES,
    SLOTS,
    TASKS,
    TIMELINE_COLUMNS,
    TIMELINE_OFF,
    TIMELINE_WEEKS,
    WEEK_SECONDS,
    ScoringTime,
)

# Timeline column by slot: emails sent, received, meetings, calls; -1: not shown.
_COLUMN_OF = np.array([0, 1, 2, 2, 3, 3, -1])


def tracked_interactions(columns: InteractionColumns) -> Bools:
    """By position: the interaction has email opens or clicks recorded (few have)."""
    tracked: Bools = (columns.opens != 0) | (columns.clicks != 0)
    return tracked


# An email's minutes by slot (sent, received): the team writes one and reads the other.
_TEAM_EMAIL = np.array([EMAIL_WRITE_MINUTES, EMAIL_READ_MINUTES, *[0.0] * (SLOTS - 2)])
_CUSTOMER_EMAIL = np.array([EMAIL_READ_MINUTES, EMAIL_WRITE_MINUTES, *[0.0] * (SLOTS - 2)])


def minutes(
    slot: npt.NDArray[np.int8],
    position: Ints,
    set_of: Ints,
    columns: InteractionColumns,
    tables: SetTables,
) -> tuple[Floats, Floats]:
    """(team minutes, customer minutes) of interactions (scoring.prepared), by their
    slot: an email's are fixed by its direction, and only the others read their
    duration and party set."""
    team, customer = _TEAM_EMAIL[slot], _CUSTOMER_EMAIL[slot]
    other = np.flatnonzero(slot >= 2)
    duration = np.take(columns.duration, position[other])
    safe = tables.of(set_of[other])
    task = slot[other] == TASKS
    team[other] = np.where(task, duration, duration * tables.present[safe])
    customer[other] = np.where(task | tables.all_declined[safe], 0.0, duration)
    return team, customer


def timeline(
    record: Ints,
    slot: npt.NDArray[np.int8],
    ts: Floats,
    history: Bools,
    time: ScoringTime,
    records: int,
) -> Ints:
    """Each record's counts by (week, column) over the timeline's weeks, from the
    history visits. The week is the same float floor division as scoring.prepared's,
    made only for the visits that can fall in the timeline (it is slow): anything
    before its start (ts - start < 0 exactly when ts < start), or past a bound a
    second beyond its 14th week, is off it anyway."""
    start = time.timeline_start_ts
    bound = start + (TIMELINE_WEEKS + 1) * WEEK_SECONDS + 1.0
    near = np.flatnonzero(history & (ts >= start) & (ts < bound))
    week = ((ts[near] - start) // WEEK_SECONDS).astype(np.int64)
    column = _COLUMN_OF[slot[near]]
    shown = (week < TIMELINE_WEEKS) & (column >= 0)
    cell = week[shown] * TIMELINE_COLUMNS + column[shown]
    timeline: Ints = np.bincount(
        record[near[shown]] * TIMELINE_OFF + cell, minlength=records * TIMELINE_OFF
    ).reshape(records, TIMELINE_OFF)
    return timeline


def most_contacted(
    record: Ints, set_of: Ints, history: Bools, tables: SetTables
) -> tuple[Ints, Ints, Ints]:
    """Each record's top three colleagues by interactions, equal counts by id."""
    visit = np.flatnonzero(history & (set_of >= 0))
    sets = set_of[visit]
    users = max(len(tables.users), 1)
    key = _colleague_keys(record[visit], sets, tables, users)
    if len(key) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    cells, count = _counted_keys(key)
    pair_record, pair_user = np.divmod(cells, users)
    pair_record, pair_user, count = _by_record_then_count(pair_record, pair_user, count, users)
    rank = np.arange(len(pair_record)) - np.searchsorted(pair_record, pair_record, side="left")
    top = rank < 3
    return pair_record[top], pair_user[top], count[top]


def _counted_keys(key: Ints) -> tuple[Ints, Ints]:
    """The distinct keys, ascending, and how often each occurs: counted in place
    when the keys span few more cells than there are keys (a group's records times
    the book's colleagues), else sorted."""
    if int(key.max()) < 4 * len(key):
        counts = np.bincount(key)
        cells = np.flatnonzero(counts)
        return cells, counts[cells]
    # Visits come by record: the stable sort (timsort) merges their runs (unique_sorted).
    key = np.sort(key, kind="stable")
    starts = np.flatnonzero(run_starts(key))
    return key[starts], np.diff(np.append(starts, len(key)))


def _colleague_keys(record: Ints, sets: Ints, tables: SetTables, users: int) -> Ints:
    """record * users + colleague, for each colleague on each visit's interaction.
    Most interactions have one colleague on them: those are read directly, the
    others expanded."""
    only = tables.only_user[sets]
    if (only >= 0).all():
        alone: Ints = record * users + only
        return alone
    owner, offset = expand(tables.user_ptr[sets + 1] - tables.user_ptr[sets])
    keys: Ints = record[owner] * users + tables.user[tables.user_ptr[sets[owner]] + offset]
    return keys


def _by_record_then_count(
    record: Ints, user: Ints, count: Ints, users: int
) -> tuple[Ints, Ints, Ints]:
    """(record, user, count) triples ordered by record, then count down, then user:
    one sort of one key when the key fits in 62 bits, else a lexsort."""
    top = int(count.max()) + 1
    if (int(record.max()) + 1) * top * users < 2**62:
        key = np.sort((record * top + (top - 1 - count)) * users + user)
        rest, user = np.divmod(key, users)
        record, below = np.divmod(rest, top)
        return record, user, top - 1 - below
    order = np.lexsort((user, -count, record))
    return record[order], user[order], count[order]
