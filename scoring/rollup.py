"""Deals and accounts: their people's health rolled up, not one pool of interactions.

A pool of every interaction of a deal lets one engaged colleague hide a silent
decision maker; a pool of an account lets one Good contact hide two Poor ones.
So a deal or an account is read from the health of its people, each person
read from their own interactions exactly as their contact record is (the same
score, the same trend):

- deal: its own pooled score (its team's interactions with its people and
  those regarding it), held down by its weakest key contact (customer contact,
  decision maker, economic buyer, champion) who is not Good:
  `deal = min(pooled, weakest key contact's score)` while that contact is below
  the Good minimum. A deal is never graded better than a key contact it is
  losing.
- account: the weighted mean of its current contacts' scores, key people
  (its primary contact, its open deals' key contacts) counting
  `ACCOUNT_KEY_WEIGHT` times.

docs/scoring.md ("Deals and accounts") gives every constant and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import NamedTuple

from scoring.explain import LAST_INVITATIONS, MAX_REASONS, as_date, plural, unanswered_turns
from scoring.health import TREND_DEAD_BAND_POINTS, Reading, grade, trend
from scoring.model import (
    Factor,
    Kpis,
    RecordHealth,
    RecordRef,
    RecordScope,
    RecordType,
    Response,
    ScoringSettings,
    StakeholderRole,
    WeakestContact,
    new_factor,
    new_health,
    new_weakest,
)
from scoring.prepared import DAY_SECONDS, ScoringTime
from scoring.tally import RecordTally

# A deal's key contacts: the people whose silence loses the deal. Influencers
# and others count in the deal's pool, and as engaged people, but do not hold
# it down.
DEAL_KEY_ROLES = frozenset(
    {
        StakeholderRole.CUSTOMER_CONTACT,
        StakeholderRole.DECISION_MAKER,
        StakeholderRole.ECONOMIC_BUYER,
        StakeholderRole.CHAMPION,
    }
)
# An account's key people weigh this many times an ordinary contact in its mean:
# the primary contact and the people its open deals depend on are the account.
ACCOUNT_KEY_WEIGHT = 2.0
# A contact who is not a key person and has had no interaction at all for this
# long is the account's history (moved on, left the company), not its current
# relationship: left out of the mean, as the dormant-record rule leaves them
# ungraded after two years.
ACCOUNT_CURRENT_DAYS = 180
# Reasons: how many of the account's contacts at risk are named.
MAX_NAMED_AT_RISK = 3

# Free-text stakeholder roles onto the vocabulary: the first rule one of whose
# words begins a word of the lower-cased role wins (a phrase with a space must
# appear as it is); no word matched reads OTHER. Word starts, not substrings:
# "cto" must not find "contractor".
_ECONOMIC_BUYER_WORDS = ("economic", "budget", "buyer", "procurement", "purchas", "financ", "cfo")
_DECISION_MAKER_WORDS = (
    "decision",
    "approv",
    "signator",
    "sign off",
    "executive",
    "chief",
    "ceo",
    "cio",
    "cto",
    "vp",
    "vice president",
    "director",
    "head of",
    "owner",
)
_CHAMPION_WORDS = ("champion", "sponsor", "advocate", "coach")
_INFLUENCER_WORDS = (
    "influenc",
    "evaluator",
    "technical",
    "advis",
    "consultant",
    "architect",
    "user",
    "manager",
    "lead",
)
ROLE_WORDS: tuple[tuple[StakeholderRole, tuple[str, ...]], ...] = (
    (StakeholderRole.ECONOMIC_BUYER, _ECONOMIC_BUYER_WORDS),
    (StakeholderRole.DECISION_MAKER, _DECISION_MAKER_WORDS),
    (StakeholderRole.CHAMPION, _CHAMPION_WORDS),
    (StakeholderRole.INFLUENCER, _INFLUENCER_WORDS),
)


def stakeholder_role(text: str | None) -> StakeholderRole:
    """The vocabulary's role for a CRM's free-text stakeholder role."""
    if not text:
        return StakeholderRole.OTHER
    words = text.lower().replace("_", " ").replace("-", " ").replace("/", " ").split()
    phrase = " ".join(words)
    for role, keys in ROLE_WORDS:
        for key in keys:
            if (" " in key and key in phrase) or any(word.startswith(key) for word in words):
                return role
    return StakeholderRole.OTHER


class PersonReading(NamedTuple):
    """One person's health, as their contact record reads it."""

    score: int | None  # now; None when they are not graded
    before: int | None  # TREND_WINDOW_DAYS ago
    last_engaged_ts: float | None  # the last time they took part
    last_ts: float | None  # their latest completed interaction of any kind


Readings = Mapping[RecordRef, PersonReading]


class RollUp(NamedTuple):
    """A deal's or account's score from its people, with what explains it."""

    score: int
    before: int | None
    weakest: tuple[RecordRef, StakeholderRole, PersonReading] | None
    reasons: list[str]  # most important first
    detail: str  # the people factor's line


# A person with several roles is named by the first of theirs here: what they
# decide before how they came onto the deal.
ROLE_PRECEDENCE = [
    StakeholderRole.DECISION_MAKER,
    StakeholderRole.ECONOMIC_BUYER,
    StakeholderRole.CHAMPION,
    StakeholderRole.CUSTOMER_CONTACT,
    StakeholderRole.PRIMARY_CONTACT,
    StakeholderRole.INFLUENCER,
    StakeholderRole.OTHER,
]


_RANK = {role: rank for rank, role in enumerate(ROLE_PRECEDENCE)}
_OPPORTUNITY = RecordType.OPPORTUNITY  # a module constant: an Enum member lookup is slow


def key_roles(scope: RecordScope) -> dict[RecordRef, StakeholderRole]:
    """Each key person once, with their strongest role (the vocabulary's order)."""
    rank = _RANK
    roles: dict[RecordRef, StakeholderRole] = {}
    for person, role in scope.roles:
        known = roles.get(person)
        if known is None or rank[role] < rank[known]:
            roles[person] = role
    return roles


def deal_rollup(
    scope: RecordScope,
    pooled: int,
    pooled_before: int | None,
    readings: Readings,
    good_min: int,
    describe: Callable[[RecordRef, StakeholderRole, PersonReading], str],
    name: Callable[[RecordRef], str],
) -> RollUp:
    """`readings`: the deal's people's, in the people's order (sorted)."""
    roles = key_roles(scope)
    key: list[tuple[int, RecordRef, StakeholderRole]] = []
    for person, role in roles.items():
        if role in DEAL_KEY_ROLES and person in scope.people:
            graded = readings[person].score
            if graded is not None:
                key.append((graded, person, role))
    key.sort()
    score, before = pooled, pooled_before
    weakest = None
    reasons: list[str] = []
    if key:
        lowest, person, role = key[0]
        weakest = (person, role, readings[person])
        if lowest < good_min:
            score = min(pooled, lowest)
            reasons.append(describe(person, role, readings[person]))
        if before is not None:
            # The same roll-up TREND_WINDOW_DAYS ago, from the key contacts' scores then.
            then = [readings[p].before for _, p, _ in key]
            held = [s for s in then if s is not None and s < good_min]
            if held:
                before = min(before, min(held))
    engaged = [
        person
        for person, reading in readings.items()
        if reading.score is not None and reading.score >= good_min
    ]
    if len(engaged) == 1:
        reasons.append(f"single-threaded: {name(engaged[0])} is the only engaged contact")
    elif not engaged:
        reasons.append("no engaged contact on this deal")
    key_count = len(key)
    engaged_key = sum(1 for graded, _, _ in key if graded >= good_min)
    detail = (
        f"{engaged_key} of {key_count} key contacts engaged; {len(engaged)} engaged "
        f"{'person' if len(engaged) == 1 else 'people'} in all"
    )
    if weakest is not None:
        detail += f"; weakest key contact {name(weakest[0])} ({weakest[1]}) at {key[0][0]}"
    return RollUp(score, before, weakest, reasons, detail)


def account_rollup(
    scope: RecordScope,
    pooled: int,
    pooled_before: int | None,
    readings: Readings,
    good_min: int,
    fair_min: int,
    now_ts: float,
    name: Callable[[RecordRef], str],
) -> RollUp:
    """`readings`: the account's people's, in the people's order (sorted)."""
    roles = key_roles(scope)
    current_from = now_ts - ACCOUNT_CURRENT_DAYS * DAY_SECONDS
    # One pass over the people: the weighted means of the scores now and before (of
    # those graded then), each summed in the people's order (every weight is at
    # least 1), and who of them is at risk (Poor or declining).
    included = 0
    total = weights = total_before = weights_before = 0.0
    # (score, not key, person, declining): sorted, refs unique, so `declining` never decides
    at_risk: list[tuple[int, bool, RecordRef, bool]] = []
    for person, reading in readings.items():
        graded = reading.score
        if graded is None:
            continue
        key = person in roles
        if not key:
            last_ts = reading.last_ts
            if last_ts is None or last_ts < current_from:
                continue
        weight = ACCOUNT_KEY_WEIGHT if key else 1.0
        included += 1
        total += graded * weight
        weights += weight
        then = reading.before
        declining = then is not None and then - graded >= TREND_DEAD_BAND_POINTS
        if then is not None:
            total_before += then * weight
            weights_before += weight
        if graded < fair_min or declining:
            at_risk.append((graded, not key, person, declining))
    if not included:
        return RollUp(pooled, pooled_before, None, [], "no graded contact: the pooled score")
    score = round(total / weights)
    before = round(total_before / weights_before) if weights_before else pooled_before
    at_risk.sort()  # worst first; on equal scores key people first
    reasons = [
        _at_risk_text(person, graded, roles.get(person), declining, good_min, fair_min, name)
        for graded, _, person, declining in at_risk[:MAX_NAMED_AT_RISK]
    ]
    key_people, engaged_key, lowest = _key_people(scope, roles, readings, good_min)
    if key_people:
        share = f"{engaged_key} of {key_people} key people engaged"
        reasons.append(share)
    else:
        share = "no key people named"
    weakest = None if lowest is None else (lowest, roles[lowest], readings[lowest])
    detail = f"weighted mean of {included} contacts' scores; {share}"
    return RollUp(score, before, weakest, reasons, detail)


def _key_people(
    scope: RecordScope,
    roles: Mapping[RecordRef, StakeholderRole],
    readings: Readings,
    good_min: int,
) -> tuple[int, int, RecordRef | None]:
    """How many of the account's people are key, how many of those are engaged, and
    the weakest graded one (the lowest score, then the first by ref)."""
    count = engaged = 0
    lowest: tuple[int, RecordRef] | None = None
    for person in roles:
        if person not in scope.people:
            continue
        count += 1
        graded = readings[person].score
        if graded is None:
            continue
        if graded >= good_min:
            engaged += 1
        if lowest is None or (graded, person) < lowest:
            lowest = (graded, person)
    return count, engaged, None if lowest is None else lowest[1]


def _at_risk_text(
    person: RecordRef,
    score: int,
    role: StakeholderRole | None,
    declining: bool,
    good_min: int,
    fair_min: int,
    name: Callable[[RecordRef], str],
) -> str:
    """`score`: the person's (graded) score now."""
    grade = "Good" if score >= good_min else "Fair" if score >= fair_min else "Poor"
    who = name(person) if role is None else f"{name(person)} ({role})"
    return f"{who} is {grade} ({score}){' and declining' if declining else ''}"


class Silence(NamedTuple):
    """What a person left unanswered since they last took part."""

    unanswered: int  # our emails
    unanswered_since_ts: float | None
    skipped: int  # of the last LAST_INVITATIONS meetings we invited them to
    invited: int


def silence_of(record: RecordTally, time: ScoringTime) -> Silence:
    """From the person's own pass (their contact scope)."""
    unanswered, since = 0, None
    for _, started_ts, messages, _, _ in unanswered_turns(record, time.now_ts):
        unanswered += messages
        since = started_ts if since is None else min(since, started_ts)
    answers = [invitation.response for invitation in record.tally.invitations]
    last = answers[-LAST_INVITATIONS:]
    skipped = sum(1 for response in last if response in _SKIPPED)
    return Silence(unanswered, since, skipped, len(last))


_SKIPPED = frozenset({Response.DECLINED, Response.NONE})


def describe_silence(who: str, silence: Silence, reading: PersonReading) -> str:
    """ "Priya Raman (decision maker) has not answered 3 emails since 2026-11-02 and
    skipped 2 of the last 3 meetings"."""
    parts = []
    if silence.unanswered and silence.unanswered_since_ts is not None:
        emails = plural(silence.unanswered, "email")
        parts.append(f"has not answered {emails} since {as_date(silence.unanswered_since_ts)}")
    if silence.skipped:
        meetings = plural(silence.invited, "meeting")
        parts.append(f"skipped {silence.skipped} of the last {meetings}")
    if parts:
        return f"{who} " + " and ".join(parts)
    if reading.last_engaged_ts is None:
        return f"no reply, call or meeting from {who} yet"
    return f"{who} has not replied, called or met us since {as_date(reading.last_engaged_ts)}"


def person_scope(person: RecordRef) -> RecordScope:
    """A person's own scope: what their contact (or lead) record reads."""
    return RecordScope(person, "", frozenset({person}))


def is_rolled_up(scope: RecordScope) -> bool:
    kind = scope.record.type
    return kind == RecordType.OPPORTUNITY or kind == RecordType.ACCOUNT


Describe = Callable[[RecordRef, StakeholderRole, PersonReading], str]


class PersonViews(NamedTuple):
    """How a core reads a person of a roll-up: their reading, their silence (for the
    reason that names them), their display name."""

    reading: Callable[[RecordRef], PersonReading]
    silence: Callable[[RecordRef], Silence]
    name: Callable[[RecordRef], str]


def rolled_up_health(
    scope: RecordScope,
    pooled: Reading,
    pooled_before: Reading,
    kpis: Kpis,
    pooled_explained: tuple[tuple[Factor, ...], tuple[str, ...]],
    views: PersonViews,
    settings: ScoringSettings,
    now_ts: float,
) -> RecordHealth:
    """A deal's or account's health from its pooled reading and its people's readings.

    The roll-up's score is graded and trended like any score; its factors are
    the pool's (`pooled_explained`: factors, reasons) plus one for the people,
    whose points are what the roll-up moved the pool by; the roll-up's reasons
    come first. Both scoring cores (scoring.pipeline, scoring.columnar) end here.
    """
    assert pooled.score is not None
    reading, silence, name = views
    everyone = sorted(scope.people)  # the roll-ups sum and name people in this order
    readings = dict(zip(everyone, map(reading, everyone), strict=True))

    def describe(person: RecordRef, role: StakeholderRole, reading: PersonReading) -> str:
        return describe_silence(f"{name(person)} ({role})", silence(person), reading)

    if scope.record.type == _OPPORTUNITY:
        rollup = deal_rollup(
            scope,
            pooled.score,
            pooled_before.score,
            readings,
            settings.good_min,
            describe,
            name,
        )
        factor_name = "key_contacts"
    else:
        rollup = account_rollup(
            scope,
            pooled.score,
            pooled_before.score,
            readings,
            settings.good_min,
            settings.fair_min,
            now_ts,
            name,
        )
        factor_name = "contacts"
    now = Reading(rollup.score, grade(rollup.score, settings), pooled.values)
    before = (
        pooled_before
        if rollup.before is None or pooled_before.score is None
        else Reading(rollup.before, grade(rollup.before, settings), pooled_before.values)
    )
    factors, reasons = pooled_explained
    pooled_points = 0.0  # a float start: with no factors the points stay a float
    for factor in factors:
        pooled_points += factor.points
    adjustment = rollup.score - pooled_points
    people = new_factor(factor_name, rollup.score / 100, 0.0, adjustment, rollup.detail)
    merged = tuple(dict.fromkeys([*rollup.reasons, *reasons]))[:MAX_REASONS]
    return new_health(
        scope.record,
        rollup.score,
        now.state,
        trend(now, before),
        kpis,
        (*factors, people),
        merged,
        _weakest(rollup, name),
    )


def _weakest(rollup: RollUp, name: Callable[[RecordRef], str]) -> WeakestContact | None:
    if rollup.weakest is None:
        return None
    person, role, reading = rollup.weakest
    assert reading.score is not None
    since = reading.last_engaged_ts
    return new_weakest(
        person,
        name(person),
        role,
        reading.score,
        None if since is None else datetime.fromtimestamp(since, UTC),
    )
