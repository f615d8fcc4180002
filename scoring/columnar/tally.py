"""Every per-record figure of scoring.tally, for the whole book at once, over columns.

scoring.tally makes one pass per record; here each figure is one vectorised
operation over all (record, interaction) visits (visits.py), which are sorted
by record and then by time. Sums are `np.bincount` over visits in that order:
bincount adds in input order, so each record's sum is the same left-to-right
sum of the same floats the reference pass makes, bit for bit. The trend's
"before" reading is the same sums over the visits dated at or before its
moment (the pass's snapshot); turns and replies are runs within (record,
conversation) groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.columnar.columns import (
    CALL,
    EMAIL,
    MEETING,
    RESPONSE_CODES,
    ROLE_CODES,
    Bools,
    Codes,
    Floats,
    InteractionColumns,
    Ints,
)
from scoring.columnar.party_tables import SetTables
from scoring.columnar.visits import Visits, contains, expand
from scoring.model import Kind, Response, Role
from scoring.prepared import (
    _DECAY_RATE,
    DAY_SECONDS,
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
from scoring.tally import ACCEPTANCE, RECENT_WINDOW_DAYS
from scoring.threads import REPLY_CREDIT_FLOOR, REPLY_SPEED_HALF_LIFE_HOURS

# Slot code by kind * 2 + inbound (scoring.prepared's slots; a task is one slot).
_SLOT_OF = np.array([0, 1, 2, 3, 4, 5, TASKS, TASKS], dtype=np.int8)
# Timeline column by slot: emails sent, received, meetings, calls; -1: not shown.
_COLUMN_OF = np.array([0, 1, 2, 2, 3, 3, -1])
_ACCEPTANCE = np.array(
    [1.0, *(ACCEPTANCE[response] for response in Response)], dtype=np.float64
)  # by response code; code 0 (no answer recorded) is never read through this
_PRESENT = np.array(
    [False, *(response in (Response.ACCEPTED, Response.TENTATIVE) for response in Response)]
)
_ORGANIZER = ROLE_CODES[Role.ORGANIZER]
_NO_RESPONSE = RESPONSE_CODES[None]


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


def _last_per_record(record: Ints, mask: Bools, records: int) -> Ints:
    """Index of the last visit of each record where mask holds (-1: none)."""
    where = np.flatnonzero(mask)
    return _last_at(record[where], where, records)


def _last_at(visit_record: Ints, where: Ints, records: int) -> Ints:
    """_last_per_record over the visits `where` (ascending), whose records are
    `visit_record`."""
    out = np.full(records, -1, dtype=np.int64)
    out[visit_record] = where  # later writes win: the last one stays
    return out


def _first_per_record(record: Ints, mask: Bools, records: int) -> Ints:
    out = np.full(records, -1, dtype=np.int64)
    where = np.flatnonzero(mask)[::-1]
    out[record[where]] = where
    return out


def _weighted(index: Ints, weights: npt.NDArray[Any], bins: int) -> Floats:
    """Sums by index, each bin's in input order (np.bincount adds in order)."""
    sums: Floats = np.bincount(index, weights=weights, minlength=bins).astype(np.float64)
    return sums


def _sum(record: Ints, mask: Bools, weights: Floats, records: int) -> Floats:
    # Selecting by the mask's indexes is several times faster than by the mask.
    where = np.flatnonzero(mask)
    return _weighted(record[where], weights[where], records)


def _count(record: Ints, mask: Bools, records: int) -> Ints:
    counts: Ints = np.bincount(record[np.flatnonzero(mask)], minlength=records)
    return counts


def tracked_interactions(columns: InteractionColumns) -> Bools:
    """By position: the interaction has email opens or clicks recorded (few have)."""
    tracked: Bools = (columns.opens != 0) | (columns.clicks != 0)
    return tracked


def _counted(record: Ints, counts: Codes, position: Ints, records: int) -> Ints:
    """Each record's total of `counts` (opens, clicks) over the interactions at
    `position`; integer sums, exact in any order, so the interactions with none
    recorded are left out."""
    total: Ints = _weighted(record, np.take(counts, position), records).astype(np.int64)
    return total


def _last_of_each(record: Ints, records: int) -> Ints:
    """Index of each record's last visit (-1: none); `record` sorted."""
    ends = np.searchsorted(record, np.arange(1, records + 1))
    starts = np.searchsorted(record, np.arange(records))
    last: Ints = np.where(ends > starts, ends - 1, -1)
    return last


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
    or clicks recorded (tracked_interactions)."""
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
    now_ts, trend_ts = time.now_ts, time.trend_ts
    # Influence weight x decay as of now (0 after now).
    age = ts - now_ts
    kind_weight = np.array(
        [settings_weights[kind] for kind in (Kind.EMAIL, Kind.MEETING, Kind.CALL, Kind.TASK)]
    )
    decay = np.exp(_DECAY_RATE * np.minimum(age, 0.0))
    weight = np.where(age <= 0, kind_weight[kind_of] * decay, 0.0)
    del age, decay
    slot = _SLOT_OF[kind_of * 2 + inbound]
    seen = ts <= now_ts
    planned = np.take(columns.planned, position) & seen
    history = seen & ~planned
    set_of = np.take(columns.party_set, position)
    contacted = _most_contacted(record[:scoped], set_of[:scoped], history[:scoped], tables)

    # Per visit: held and engaged (scoring.tally.Tally.add).
    engaged = (kind_of == CALL) & history
    held = history.copy()
    # Their emails: engaged when one of the record's people wrote them, or when
    # they reached the record only through its regarding and a CRM person wrote them.
    theirs = np.flatnonzero(history & (kind_of == EMAIL) & inbound)
    author = tables.author[tables.of(set_of[theirs])]
    wrote = (author >= 0) & (
        contains(visits.members, record[theirs] * visits.people_count + author)
        | ~visits.has_person[theirs]
    )
    engaged[theirs[wrote]] = True
    loop = np.zeros(len(record), dtype=np.bool_)
    loop[theirs[~wrote]] = True
    held[theirs[~wrote]] = False
    del author, wrote, theirs
    # Meetings: from the answers of the record's people among the invitees.
    meeting = np.flatnonzero(history & (kind_of == MEETING))
    m_set_safe = tables.of(set_of[meeting])
    m_count = tables.party_ptr[m_set_safe + 1] - tables.party_ptr[m_set_safe]
    owner, offset = expand(m_count)
    party = tables.party_ptr[m_set_safe[owner]] + offset
    a_person = tables.party_person[party]
    a_role = tables.party_role[party]
    a_response = tables.party_response[party]
    a_record = record[meeting[owner]]
    in_people = contains(visits.members, a_record * visits.people_count + a_person)
    any_in_people = np.bincount(owner[in_people], minlength=len(meeting)) > 0
    attendee = in_people | ~any_in_people[owner]
    owner, a_person, a_role, a_response = (
        owner[attendee],
        a_person[attendee],
        a_role[attendee],
        a_response[attendee],
    )
    ours = ~inbound[meeting[owner]]
    there = (a_response == _NO_RESPONSE) | (~ours & (a_role == _ORGANIZER))
    a_engaged = there | _PRESENT[a_response]
    acceptance = np.where(there, 1.0, _ACCEPTANCE[a_response])
    attendees = np.bincount(owner, minlength=len(meeting))
    m_acceptance = _weighted(owner, acceptance, len(meeting))
    m_engaged = np.bincount(owner[a_engaged], minlength=len(meeting)) > 0
    with_attendees = attendees > 0
    held[meeting] = m_engaged | ~with_attendees
    engaged[meeting] = m_engaged
    invited = ours & ~there
    invitation_visit = meeting[owner[invited]]
    invitation_person = a_person[invited]
    invitation_response = a_response[invited]
    # acceptance_sum: weight * acceptance / attendees, per meeting with attendees
    acc_visit = meeting[with_attendees]
    acc_value = weight[acc_visit] * m_acceptance[with_attendees] / attendees[with_attendees]
    del owner, offset, party, a_person, a_role, a_response, a_record, in_people, attendee

    def reading(as_of_ts: float, upto: Bools | None) -> Reading:
        """The sums as of `as_of_ts`; `upto`: the visits dated at or before it, None
        as of now (history, and all that is made of it, is dated at or before now)."""
        h, hd, eng, lp = (
            (history, held, engaged, loop)
            if upto is None
            else (history & upto, held & upto, engaged & upto, loop & upto)
        )
        # Each mask's visits found once, and their records gathered once.
        held_at = np.flatnonzero(hd)
        volume = _weighted(
            record[held_at] * SLOTS + slot[held_at], weight[held_at], records * SLOTS
        ).reshape(records, SLOTS)
        engaged_at = np.flatnonzero(eng)
        engaged_record = record[engaged_at]
        last_engaged = _last_at(engaged_record, engaged_at, records)
        history_at = np.flatnonzero(h)
        history_record = record[history_at]
        asked = np.flatnonzero(hd & ours_threaded)
        silent = asked[asked > last_engaged[record[asked]]]
        acc = acc_visit if upto is None else acc_visit[upto[acc_visit]]
        acc_values = acc_value if upto is None else acc_value[upto[acc_visit]]
        replied = them if upto is None else them & (reply_ts <= as_of_ts)
        recent_from = as_of_ts - RECENT_WINDOW_DAYS * DAY_SECONDS
        return Reading(
            volume=volume,
            loop_volume=_sum(record, lp, weight, records),
            engaged_volume=_weighted(engaged_record, weight[engaged_at], records),
            last_engaged=last_engaged,
            asked=_weighted(record[asked], weight[asked], records),
            replied=_weighted(reply_record[replied], reply_turn_weight[replied], records),
            reply_credit=_weighted(reply_record[replied], reply_credit[replied], records),
            silent=_weighted(record[silent], weight[silent], records),
            acceptance_sum=_weighted(record[acc], acc_values, records),
            acceptance_weight=_weighted(record[acc], weight[acc], records),
            completed=np.bincount(history_record, minlength=records),
            recent_completed=np.bincount(
                history_record[ts[history_at] > recent_from], minlength=records
            ),
            last=_last_at(history_record, history_at, records),
        )

    # Turns: runs of emails from one side within one (record, conversation).
    conversation = np.take(columns.conversation, position)
    has_thread = conversation >= 0
    threaded = np.flatnonzero(held & (kind_of == EMAIL) & has_thread)
    t_key = record[threaded] * (len(columns.conversations) + 1) + conversation[threaded]
    order = np.argsort(t_key, kind="stable")
    t_visit = threaded[order]
    t_group = t_key[order]
    t_inbound = inbound[t_visit]
    new_group = np.ones(len(t_visit), dtype=np.bool_)
    new_group[1:] = t_group[1:] != t_group[:-1]
    new_turn = new_group.copy()
    new_turn[1:] |= t_inbound[1:] != t_inbound[:-1]
    turn_of = np.cumsum(new_turn) - 1
    starts = np.flatnonzero(new_turn)
    turn_weight = _weighted(turn_of, weight[t_visit], len(starts))
    turn_messages = np.bincount(turn_of)
    turn_visit = t_visit[starts]  # the opener
    turn_ts = ts[turn_visit]
    turn_inbound = t_inbound[starts]
    turn_record = record[turn_visit]
    answered = np.zeros(len(starts), dtype=np.bool_)
    answered[:-1] = ~new_group[starts[1:]]
    answered_turns = np.flatnonzero(answered)
    reply_visit = turn_visit[answered_turns + 1]
    # Replies in the order the pass meets them: by record, then time.
    reply_order = np.argsort(reply_visit, kind="stable")
    answered_turns, reply_visit = answered_turns[reply_order], reply_visit[reply_order]
    reply_record = record[reply_visit]
    reply_ts = ts[reply_visit]
    hours = (reply_ts - turn_ts[answered_turns]) / 3600.0
    them = ~turn_inbound[answered_turns]  # our turn answered: a reply by them
    reply_turn_weight = turn_weight[answered_turns]
    speed = 0.5 ** (hours / REPLY_SPEED_HALF_LIFE_HOURS)
    reply_credit = reply_turn_weight * (REPLY_CREDIT_FLOOR + (1.0 - REPLY_CREDIT_FLOOR) * speed)
    last_turn = np.ones(len(starts), dtype=np.bool_)
    last_turn[:-1] = new_group[starts[1:]]
    open_ours = np.flatnonzero(last_turn & ~turn_inbound)
    # Open turns by record, in the order their conversation first appeared.
    open_ours = open_ours[np.argsort(turn_record[open_ours], kind="stable")]
    # The scopes' threaded visits (those before `scoped`) come first: t_group is
    # sorted by record.
    t_scoped = int(np.count_nonzero(t_visit < scoped))
    del order, t_key, t_group, new_group, new_turn, turn_of, threaded

    ours_threaded = (kind_of == EMAIL) & ~inbound & has_thread
    now_reading = reading(now_ts, None)
    before_reading = reading(trend_ts, ts <= trend_ts)
    in_the_loop = _count(record[:scoped], loop[:scoped] & has_thread[:scoped], records)
    del conversation, has_thread

    # KPIs, over the scopes' history visits only.
    past = np.flatnonzero(history[:scoped])
    past_record, past_slot = record[past], slot[past]
    counts = np.bincount(past_record * SLOTS + past_slot, minlength=records * SLOTS).reshape(
        records, SLOTS
    )
    timeline = _timeline(
        record[:scoped], slot[:scoped], ts[:scoped], history[:scoped], time, records
    )
    past_position = position[past]
    team_minutes, customer_minutes = _minutes(
        past_slot, past_position, set_of[past], columns, tables
    )
    del set_of
    with_tracking = np.flatnonzero(np.take(tracked, past_position))
    opened = past_position[with_tracking]
    upcoming = _first_per_record(record[:scoped], ~seen[:scoped], records)
    recent = engaged[:scoped] & history[:scoped] & (ts[:scoped] > now_ts - 30 * DAY_SECONDS)
    recent_engaged = _count(record[:scoped], recent, records)
    threaded_side = np.zeros((records, 2), dtype=np.int64)
    scoped_visit, scoped_inbound = t_visit[:t_scoped], t_inbound[:t_scoped]
    threaded_side[:, 0] = np.bincount(record[scoped_visit[~scoped_inbound]], minlength=records)
    threaded_side[:, 1] = np.bincount(record[scoped_visit[scoped_inbound]], minlength=records)
    meetings_held, calls_held = (
        held[:scoped] & (kind_of[:scoped] == kind) for kind in (MEETING, CALL)
    )
    us = ~them
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
        counts=counts,
        timeline=timeline,
        team_minutes=_weighted(past_record, team_minutes, records),
        customer_minutes=_weighted(past_record, customer_minutes, records),
        opens=_counted(past_record[with_tracking], columns.opens, opened, records),
        clicks=_counted(past_record[with_tracking], columns.clicks, opened, records),
        upcoming=upcoming,
        latest=_last_of_each(record, records),
        last_meeting=_last_per_record(record[:scoped], meetings_held, records),
        last_call=_last_per_record(record[:scoped], calls_held, records),
        recent_engaged=recent_engaged,
        threaded=threaded_side,
        in_the_loop=in_the_loop,
        replies_by_us=np.bincount(reply_record[us], minlength=records),
        replies_by_them=np.bincount(reply_record[them], minlength=records),
        answered_by_us=_weighted(
            reply_record[us], turn_messages[answered_turns[us]], records
        ).astype(np.int64),
        answered_by_them=_weighted(
            reply_record[them], turn_messages[answered_turns[them]], records
        ).astype(np.int64),
        hours_by_us=_weighted(reply_record[us], hours[us], records),
        hours_by_them=_weighted(reply_record[them], hours[them], records),
        open_record=turn_record[open_ours],
        open_started=turn_ts[open_ours],
        open_messages=turn_messages[open_ours],
        open_opener=turn_visit[open_ours],
        invitation_record=record[invitation_visit],
        invitation_visit=invitation_visit,
        invitation_person=invitation_person,
        invitation_response=invitation_response,
        contacted_record=contacted[0],
        contacted_user=contacted[1],
        contacted_count=contacted[2],
    )


# An email's minutes by slot (sent, received): the team writes one and reads the other.
_TEAM_EMAIL = np.array([EMAIL_WRITE_MINUTES, EMAIL_READ_MINUTES, *[0.0] * (SLOTS - 2)])
_CUSTOMER_EMAIL = np.array([EMAIL_READ_MINUTES, EMAIL_WRITE_MINUTES, *[0.0] * (SLOTS - 2)])


def _minutes(
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


def _timeline(
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


def _most_contacted(
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
    first = np.ones(len(key), dtype=np.bool_)
    first[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(first)
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
