"""Why a record has its score: the four factors and a few concrete reasons.

Reasons are sentences a seller can act on, with names and ISO dates. Each
candidate carries an impact in score points: what its factor lost (for a
problem) or earned (for a strength), so the reasons that explain most of the
score come first. Ties go by size (3 unanswered emails before 1), then text,
so the order never depends on dict order or input order.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import NamedTuple

from scoring.factors import EXPECTED_GAP_DAYS, FACTOR_WEIGHTS, FactorValues, days_since_engaged
from scoring.model import (
    Factor,
    Frequency,
    HealthState,
    Kind,
    RecordRef,
    RecordScope,
    Response,
    Role,
    new_factor,
)
from scoring.prepared import (
    DAY_SECONDS,
    EMAILS_RECEIVED,
    TASKS,
    PreparedInteraction,
    ScoringTime,
)
from scoring.tally import RecordTally, Signals
from scoring.threads import HOUR_SECONDS, TURN_INBOUND, TURN_STARTED_TS, OpenTurn

MAX_REASONS = 5
# An email younger than a day is not "unanswered" yet in the reasons (the
# score still counts it, time-weighted).
UNANSWERED_AFTER_HOURS = 24.0
# A customer email we never answered stops being "awaiting our reply" after
# this long: by then the conversation has moved on (a closing "thanks!" from
# last spring is not a task for today). The engagement factor still counts it.
AWAITING_REPLY_DAYS = 30
# Our own late replies do not move the customer's engagement, but a customer
# waiting on us is something to act on: rank it like a 15-point loss.
WAITING_ON_US_IMPACT = 15.0
NO_MEETING_AFTER_DAYS = 30
LAST_INVITATIONS = 3
SLOW_REPLY_HOURS = 48
RECENT_DAYS = 30  # the window of "N two-way contacts in the last 30 days"
RHYTHM_WORDS: dict[Frequency, str] = {
    Frequency.DAILY: "daily",
    Frequency.EVERY_FEW_DAYS: "every-few-days",
    Frequency.WEEKLY: "weekly",
    Frequency.EVERY_COUPLE_OF_WEEKS: "fortnightly",
    Frequency.MONTHLY: "monthly",
}

# Enum members as module constants: in Python 3.11 a member lookup on the
# class costs ~0.25 µs, and these run for every record.
_FROM, _ORGANIZER = Role.FROM, Role.ORGANIZER
_DECLINED, _NO_ANSWER = Response.DECLINED, Response.NONE
_MEETING, _CALL = Kind.MEETING, Kind.CALL

# (-impact, -size, text): sorting these puts the most important first.
Candidate = tuple[float, float, str]


def candidate(impact: float, size: float, text: str) -> Candidate:
    return -impact, -size, text


class Context(NamedTuple):
    """What every reason needs to name people and dates."""

    scope: RecordScope
    names: Mapping[RecordRef, str]
    record: RecordTally
    time: ScoringTime
    frequency: Frequency


def explain(values: FactorValues, context: Context) -> tuple[tuple[Factor, ...], tuple[str, ...]]:
    """(the four factors with a detail line each, the reasons most important first)."""
    recency, frequency, engagement, activity_mix = values
    points = factor_points(values)
    return explained(
        values,
        points,
        _recency(context, recency, *points.recency),
        _frequency(context, frequency, *points.frequency),
        _engagement(context, *points.engagement),
        _activity_mix(context, activity_mix, *points.activity_mix),
    )


class Points(NamedTuple):
    """Per factor: (points lost, points earned). A problem weighs what its factor lost,
    a strength what it earned."""

    recency: tuple[float, float]
    frequency: tuple[float, float]
    engagement: tuple[float, float]
    activity_mix: tuple[float, float]


def factor_points(values: FactorValues) -> Points:
    recency, frequency, engagement, activity_mix = values
    w_recency, w_frequency, w_engagement, w_activity_mix = FACTOR_WEIGHTS
    p_recency, p_frequency = 100 * w_recency * recency, 100 * w_frequency * frequency
    p_engagement, p_activity_mix = (
        100 * w_engagement * engagement,
        100 * w_activity_mix * activity_mix,
    )
    return Points(
        (100 * w_recency - p_recency, p_recency),
        (100 * w_frequency - p_frequency, p_frequency),
        (100 * w_engagement - p_engagement, p_engagement),
        (100 * w_activity_mix - p_activity_mix, p_activity_mix),
    )


def explained(
    values: FactorValues,
    points: Points,
    recency: Explained,
    frequency: Explained,
    engagement: Explained,
    activity_mix: Explained,
) -> tuple[tuple[Factor, ...], tuple[str, ...]]:
    """The four factors with their detail lines, and the reasons most important first."""
    return ranked(
        values,
        (points.recency[1], points.frequency[1], points.engagement[1], points.activity_mix[1]),
        (recency[0], frequency[0], engagement[0], activity_mix[0]),
        [*recency[1], *frequency[1], *engagement[1], *activity_mix[1]],
    )


def ranked(
    values: FactorValues,
    earned: tuple[float, float, float, float],
    details: tuple[str, str, str, str],
    candidates: list[Candidate],
) -> tuple[tuple[Factor, ...], tuple[str, ...]]:
    """The four factors (each one's value, points earned and line), and the reasons of
    `candidates` most important first (`candidates` is sorted in place)."""
    weights = FACTOR_WEIGHTS
    candidates.sort()
    factors = (
        new_factor("recency", values[0], weights[0], earned[0], details[0]),
        new_factor("frequency", values[1], weights[1], earned[1], details[1]),
        new_factor("engagement", values[2], weights[2], earned[2], details[2]),
        new_factor("activity_mix", values[3], weights[3], earned[3], details[3]),
    )
    return factors, tuple([text for _, _, text in candidates[:MAX_REASONS]])


def ungraded_reason(state: HealthState, context: Context) -> str:
    upcoming = context.record.upcoming
    return ungraded_text(
        state, upcoming.ts if upcoming is not None else None, context.record.now.completed
    )


def ungraded_text(state: HealthState, upcoming_ts: float | None, completed: int) -> str:
    """Why a record is not graded; `upcoming_ts`: its next planned activity, if any."""
    if state == HealthState.RECORD_OLDER_THAN_2_YEARS:
        return "no interaction in the last 2 years; the record is older than 2 years"
    if state == HealthState.NO_CLOSED_ACTIVITIES:
        when = f"; next on {as_date(upcoming_ts)}" if upcoming_ts is not None else ""
        return f"only planned activities so far{when}"
    completed_text = plural(completed, "completed interaction")
    return f"{completed_text} so far; grading starts with 2 in 90 days or 5 in total"


Explained = tuple[str, list[Candidate]]  # a factor's detail line and reasons


def _recency(context: Context, value: float, lost: float, earned: float) -> Explained:
    last = context.record.now.last_engaged
    if last is None:
        return recency_explained(context.frequency, context.scope.name, None, value, lost, earned)
    days = round(days_since_engaged(context.record.now) or 0)
    who = _engaged_person(last, context)
    return recency_explained(
        context.frequency, context.scope.name, (last.ts, days, who), value, lost, earned
    )


def recency_explained(
    frequency: Frequency,
    record_name: str,
    last: tuple[float, int, str] | None,
    value: float,
    lost: float,
    earned: float,
) -> Explained:
    """`last`: when the customer last took part, how many days ago, and who."""
    if last is None:
        return never_engaged_detail(frequency), [
            candidate(lost, 0, never_engaged_text(record_name))
        ]
    ts, days, who = last
    date = as_date(ts)
    detail = recency_detail(frequency, date, days)
    if value < 1:
        return detail, [candidate(lost, days, silent_since_text(who, date, days))]
    return detail, [candidate(earned, 0, last_contact_text(who, date))]


# The recency line repeats from record to record (a run quotes a few hundred days):
# each (day, days ago) is formatted once per process.
@cache
def recency_detail(frequency: Frequency, date: str, days: int) -> str:
    """The recency factor's line when the customer last took part on `date`."""
    return f"last two-way contact {date} ({_days_ago(days)}); {_rhythm_allows(frequency)}"


@cache
def never_engaged_detail(frequency: Frequency) -> str:
    """The recency factor's line when the customer never took part."""
    return f"no reply, call or meeting from the customer yet; {_rhythm_allows(frequency)}"


def never_engaged_text(record_name: str) -> str:
    return f"no reply, call or meeting from {record_name} yet"


def silent_since_text(who: str, date: str, days: int) -> str:
    return f"no reply, call or meeting from {who} since {date} ({days} days)"


def last_contact_text(who: str, date: str) -> str:
    return f"last two-way contact with {who} on {date}"


def _frequency(context: Context, value: float, lost: float, earned: float) -> Explained:
    engaged = context.record.tally.engaged_ts
    recent = len(engaged) - bisect_right(engaged, context.time.now_ts - RECENT_DAYS * DAY_SECONDS)
    return frequency_explained(context.frequency, recent, value, lost, earned)


def frequency_explained(
    frequency: Frequency, recent: int, value: float, lost: float, earned: float
) -> Explained:
    """`recent`: two-way contacts in the last RECENT_DAYS days."""
    contacts, detail, short = frequency_texts(frequency, recent)
    if value < 1:
        return detail, [candidate(lost, -value, short)]
    return detail, [candidate(earned, value, contacts)]


# The factors' lines repeat from record to record (a run has one rhythm and a few
# dozen contact counts): each is formatted once per process.
@cache
def _rhythm_allows(frequency: Frequency) -> str:
    return f"a {RHYTHM_WORDS[frequency]} rhythm allows {EXPECTED_GAP_DAYS[frequency]:g} days"


@cache
def frequency_texts(frequency: Frequency, recent: int) -> tuple[str, str, str]:
    """(the contacts, the factor's line, the reason when below the rhythm)."""
    contacts = f"{plural(recent, 'two-way contact')} in the last {RECENT_DAYS} days"
    expected = max(1, round(RECENT_DAYS / EXPECTED_GAP_DAYS[frequency]))
    rhythm = RHYTHM_WORDS[frequency]
    return (
        contacts,
        f"{contacts}, about {expected} expected",
        f"{contacts}; a {rhythm} rhythm expects about {expected}",
    )


def _engagement(context: Context, lost: float, earned: float) -> Explained:
    return engagement_detail(context.record.now), [
        *_waiting(context, lost),
        *_skipped_meetings(context, lost),
        *_reply_speed(context, lost, earned),
    ]


def engagement_detail(signals: Signals) -> str:
    return engagement_text(
        signals.asked_weight,
        signals.answered_weight,
        signals.acceptance_sum,
        signals.acceptance_weight,
        signals.outbound_volume,
        signals.inbound_volume,
    )


def engagement_text(
    asked: float,
    answered: float,
    acceptance_sum: float,
    acceptance_weight: float,
    outbound: float,
    inbound: float,
) -> str:
    """The engagement factor's line from its signals (weights and volumes)."""
    return engagement_line(
        round(answered / asked * 100) if asked > 0 else None,
        round(acceptance_sum / acceptance_weight * 100) if acceptance_weight > 0 else None,
        inbound / outbound if outbound > 0 and inbound > 0 else None,
    )


def engagement_line(replies: int | None, accepted: int | None, ratio: float | None) -> str:
    """The engagement factor's line from its figures: the percent of full credit our
    emails' replies earn, the percent of our invitations accepted, and their emails
    for each of ours (None: nothing to measure)."""
    shares = _shares_text(replies, accepted)
    if ratio is None:
        return shares or "nothing from the customer to measure yet"
    each = f"{ratio:.1f} of their emails for each of ours"
    return f"{shares}; {each}" if shares else each


@cache
def _shares_text(replies: int | None, accepted: int | None) -> str:
    parts = []
    if replies is not None:
        parts.append(f"replies to our emails earn {replies} % of full credit")
    if accepted is not None:
        parts.append(f"accepted {accepted} % of our meeting invitations")
    return "; ".join(parts)


def _waiting(context: Context, lost: float) -> list[Candidate]:
    """Our emails unanswered by them (per person) and their emails awaiting our reply."""
    return [*_unanswered(context, lost), *_awaiting_our_reply(context)]


def unanswered_turns(record: RecordTally, now_ts: float) -> list[OpenTurn]:
    """Our turns the customer left unanswered (for UNANSWERED_AFTER_HOURS or more)
    since they last took part."""
    due = now_ts - UNANSWERED_AFTER_HOURS * HOUR_SECONDS
    last_engaged = record.now.last_engaged
    # Our emails followed by other contact from the customer were not left
    # unanswered in any way that matters (see threads.Threads).
    silent_after = last_engaged.ts if last_engaged is not None else float("-inf")
    return [
        turn
        for turn in record.tally.threads.turns.values()
        if not turn[TURN_INBOUND] and silent_after < turn[TURN_STARTED_TS] <= due
    ]


def _unanswered(context: Context, lost: float) -> list[Candidate]:
    """Our turns the customer left unanswered since they last took part, per person."""
    waiting: dict[str, list[float]] = {}  # name -> [messages, since]
    for inbound, started_ts, messages, _, opener in unanswered_turns(
        context.record, context.time.now_ts
    ):
        for ref in _turn_people(opener, inbound, context.scope.people):
            entry = waiting.setdefault(_name(ref, context), [0, started_ts])
            entry[0] += messages
            entry[1] = min(entry[1], started_ts)
    return unanswered_reasons(waiting, lost)


def unanswered_reasons(waiting: dict[str, list[float]], lost: float) -> list[Candidate]:
    """name -> [our emails unanswered, since when] as reasons."""
    reasons = []
    for name, (messages, since) in waiting.items():
        text = f"{plural(int(messages), 'email')} to {name} unanswered since {as_date(since)}"
        reasons.append(candidate(lost, messages, text))
    return reasons


def _awaiting_our_reply(context: Context) -> list[Candidate]:
    """Emails the record's people wrote in the last AWAITING_REPLY_DAYS (and over a
    day ago) with nothing from us to them afterwards: no email of ours to them, no
    call, no meeting, in any conversation."""
    now_ts = context.time.now_ts
    due = now_ts - UNANSWERED_AFTER_HOURS * HOUR_SECONDS
    stale = now_ts - AWAITING_REPLY_DAYS * DAY_SECONDS
    people = context.scope.people
    rows = context.record.rows
    heard_from_us: set[RecordRef] = set()  # people we wrote to, called or met later
    waiting: dict[RecordRef, list[float]] = {}  # person -> [emails, since]
    position = context.record.end - 1
    while position >= 0:
        row = rows[position]
        position -= 1
        if row.ts < stale:
            break
        if row.planned:
            continue
        if row.slot == EMAILS_RECEIVED:
            author = row.author
            if author is None or author not in people or author in heard_from_us:
                continue
            if row.ts <= due:
                entry = waiting.setdefault(author, [0, row.ts])
                entry[0] += 1
                entry[1] = row.ts  # going back in time: the oldest so far
        elif row.slot != TASKS:
            heard_from_us.update(party.ref for party in row.interaction.external)
    return awaiting_reasons([(_name(person, context), entry) for person, entry in waiting.items()])


def awaiting_reasons(waiting: list[tuple[str, list[float]]]) -> list[Candidate]:
    """(person's name, [their emails awaiting our reply, since when]) as reasons."""
    return [awaiting_reason(name, emails, since) for name, (emails, since) in waiting]


def awaiting_reason(name: str, emails: float, since: float) -> Candidate:
    """`emails` from `name` awaiting our reply since `since`."""
    text = f"{plural(int(emails), 'email')} from {name} awaiting our reply since {as_date(since)}"
    return candidate(WAITING_ON_US_IMPACT, emails, text)


def _turn_people(
    opener: PreparedInteraction, inbound: bool, people: frozenset[RecordRef]
) -> list[RecordRef]:
    """Who waits (our turn: the recipients) or is waited on (theirs: the sender)."""
    external = opener.interaction.external
    if inbound:
        senders = [p for p in external if p.role == _FROM] or list(external[:1])
        return [p.ref for p in senders[:1]]
    recipients = [p.ref for p in external if p.ref in people] or [p.ref for p in external]
    return list(dict.fromkeys(recipients))


def _skipped_meetings(context: Context, lost: float) -> list[Candidate]:
    answers: dict[RecordRef, list[Response]] = {}
    for invitation in context.record.tally.invitations:
        answers.setdefault(invitation.person, []).append(invitation.response)
    return skipped_meetings(answers, lambda person: _name(person, context), lost)


def skipped_meetings(
    answers: dict[RecordRef, list[Response]], name_of: Callable[[RecordRef], str], lost: float
) -> list[Candidate]:
    """Each person's answers to our invitations, in order, as reasons."""
    reasons = []
    for person, responses in answers.items():
        last = responses[-LAST_INVITATIONS:]
        declined, unanswered = last.count(_DECLINED), last.count(_NO_ANSWER)
        if declined + unanswered:
            reasons.append(skipped_reason(name_of(person), declined, unanswered, len(last), lost))
    return reasons


def skipped_reason(
    name: str, declined: int, unanswered: int, invited: int, lost: float
) -> Candidate:
    """`name` declined or left unanswered some of the last `invited` meetings we
    invited them to (one of them at least)."""
    of = f"of the last {plural(invited, 'meeting')}"
    if not unanswered:
        text = f"{name} declined {declined} {of}"
    elif not declined:
        text = f"{name} left {unanswered} {of} unanswered"
    else:
        text = f"{name} skipped {declined + unanswered} {of} ({declined} declined)"
    return candidate(lost, declined + unanswered, text)


def _reply_speed(context: Context, lost: float, earned: float) -> list[Candidate]:
    threads = context.record.tally.threads
    return reply_speed(
        threads.replies_by_them, threads.response_hours_by_them, context.scope.name, lost, earned
    )


def reply_speed(
    replies: int, total_hours: float, who: str, lost: float, earned: float
) -> list[Candidate]:
    if not replies:
        return []
    hours = total_hours / replies
    if hours > SLOW_REPLY_HOURS:
        return [candidate(lost, hours, f"{who} takes {_duration(hours)} to reply on average")]
    # Speed is a part of engagement, not all of it: half its points.
    text = f"{who} replies within {_duration(hours)} on average"
    return [candidate(earned / 2, -hours, text)]


def _activity_mix(context: Context, value: float, lost: float, earned: float) -> Explained:
    tally = context.record.tally
    return activity_mix_explained(
        context.record.now.kind_volume,
        tally.last_of(_MEETING),
        tally.last_of(_CALL) is not None,
        context.time.now_ts,
        (value, lost, earned),
    )


def activity_mix_explained(
    kind_volume: tuple[float, ...],
    last_meeting: float | None,
    any_call: bool,
    now_ts: float,
    scored: tuple[float, float, float],
) -> Explained:
    """`last_meeting`: when the latest held meeting was; `scored`: (value, lost, earned)."""
    value, lost, earned = scored
    emails, meetings, calls, tasks = kind_volume
    detail = CHANNELS_IN_USE[(emails > 0) + 2 * (meetings > 0) + 4 * (calls > 0) + 8 * (tasks > 0)]
    return detail, mix_reasons(last_meeting, any_call, now_ts, value, lost, earned)


def mix_reasons(
    last_meeting: float | None,
    any_call: bool,
    now_ts: float,
    value: float,
    lost: float,
    earned: float,
) -> list[Candidate]:
    """The activity mix's reason, if any: no meeting (or call) yet, none for a while,
    or a recent one."""
    if last_meeting is None:
        if not any_call:
            return [candidate(lost, 0, "no meeting or call yet, only written contact")]
        return []
    days = int((now_ts - last_meeting) // DAY_SECONDS)
    if days >= NO_MEETING_AFTER_DAYS:
        return [candidate(lost, days, f"no meeting in {days} days")]
    if value >= 0.8:
        return [candidate(earned, 0, f"last meeting on {as_date(last_meeting)}")]
    return []


def _channels_in_use(code: int) -> str:
    labels = ("emails", "meetings", "calls", "tasks")
    names = [label for bit, label in enumerate(labels) if code >> bit & 1]
    return "channels in use: " + ", ".join(names) if names else "no channel in use"


# The activity mix's line by the channels in use, one bit each: emails 1, meetings 2,
# calls 4, tasks 8.
CHANNELS_IN_USE = tuple(_channels_in_use(code) for code in range(16))


def _engaged_person(row: PreparedInteraction, context: Context) -> str:
    people = context.scope.people
    if len(people) == 1:  # a contact or a lead: it was them
        [person] = people
        return _name(person, context)
    external = row.interaction.external
    ours = [p for p in external if p.ref in people and p.role in (_FROM, _ORGANIZER)]
    ours = ours or [p for p in external if p.ref in people]
    return _name(ours[0].ref, context) if ours else context.scope.name


def _name(ref: RecordRef, context: Context) -> str:
    name = context.names.get(ref)
    if name:
        return name
    if ref == context.scope.record:
        return context.scope.name
    return ref.type + " " + ref.id  # RecordType is a str: no slow Enum.__format__


def as_date(ts: float) -> str:
    """The ISO date of a time, kept by day: a run quotes the same few hundred days.

    A time well inside its day is that day's date; one within a millisecond of
    midnight is converted on its own (fromtimestamp rounds to the microsecond)."""
    day = ts // DAY_SECONDS
    if 0.0 <= ts - day * DAY_SECONDS < DAY_SECONDS - 0.001:
        date = _DATES.get(day)
        if date is None:
            date = _DATES[day] = datetime.fromtimestamp(ts, UTC).date().isoformat()
        return date
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


_DATES: dict[float, str] = {}


def _days_ago(days: int) -> str:
    return "today" if days <= 0 else f"{plural(days, 'day')} ago"


def _duration(hours: float) -> str:
    if hours < 1:
        return plural(max(1, round(hours * 60)), "minute")
    if hours < 48:
        return plural(round(hours), "hour")
    return plural(round(hours / 24), "day")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
