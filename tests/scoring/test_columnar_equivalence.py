"""The columnar core (scoring.columnar) gives exactly what the reference (scoring.ScoringRun) gives.

Random books for the property, and how two results compare:

A book is records (contacts, leads, accounts, deals with teams and roles)
and their interactions in every shape scoring reads: both directions, every
kind, copied people, meetings with any answers, shared and missing
conversation ids, "regarding" links, planned and future ones, equal times.
"""

from __future__ import annotations

import math
from dataclasses import fields
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import score_records
from scoring.columnar import ColumnarRun, columns_of, score_columns
from scoring.model import (
    Direction,
    Frequency,
    HealthState,
    Interaction,
    Kind,
    Kpis,
    Party,
    RecordHealth,
    RecordRef,
    RecordScope,
    RecordType,
    Response,
    Role,
    ScoringSettings,
    StakeholderRole,
)
from tests.scoring import factories as f
from tests.scoring.factories import CONTACTS, NOW, PEOPLE, USERS, property_settings

# Floats (KPI hours and minutes, factor values and points) may differ by this
# relative amount; everything else must be equal. The core adds the same floats
# in the same order as the reference, so today they are bit for bit the same.
FLOAT_TOLERANCE = 1e-9

ACCOUNTS = [RecordRef(RecordType.ACCOUNT, f"a{n}") for n in range(2)]
DEALS = [RecordRef(RecordType.OPPORTUNITY, f"o{n}") for n in range(3)]
NAMES = {ref: f"Person {ref.id}" for ref in PEOPLE[:5]} | {
    RecordRef(RecordType.SYSTEM_USER, "u0"): "Sam Seller"
}
_ROLES = list(StakeholderRole)


@st.composite
def interactions(draw: st.DrawFn, count: int = 40) -> list[Interaction]:
    size = draw(st.integers(min_value=0, max_value=count))
    book = []
    for number in range(size):
        kind = draw(st.sampled_from(list(Kind)))
        inbound = draw(st.booleans())
        # Whole hours in a window, so equal times (ties by key) happen.
        hours = draw(st.integers(min_value=-24 * 20, max_value=24 * 400))
        people = draw(st.lists(st.sampled_from(PEOPLE), max_size=3, unique=True))
        external = []
        for position, person in enumerate(people):
            if kind == Kind.EMAIL:
                role = (
                    Role.FROM
                    if inbound and position == 0
                    else draw(st.sampled_from([Role.TO, Role.CC, Role.BCC]))
                )
                response = None
            else:
                role = draw(
                    st.sampled_from([Role.REQUIRED, Role.OPTIONAL, Role.ORGANIZER, Role.TO])
                )
                response = draw(st.sampled_from([None, *Response]))
            external.append(Party(person, role, response))
        users = draw(st.lists(st.sampled_from(USERS), max_size=2, unique=True))
        internal = tuple(
            Party(
                RecordRef(RecordType.SYSTEM_USER, user),
                draw(st.sampled_from([Role.FROM, Role.TO, Role.REQUIRED, Role.ORGANIZER])),
                draw(st.sampled_from([None, *Response])),
            )
            for user in users
        )
        book.append(
            Interaction(
                key=f"k{draw(st.integers(0, 3))}-{number}",
                kind=kind,
                direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                occurred_at=NOW - timedelta(hours=hours),
                internal=internal,
                external=tuple(external),
                duration_minutes=draw(st.sampled_from([0.0, 15.0, 30.0, 45.5])),
                conversation_id=draw(st.sampled_from([None, "t1", "t2", "t3", "t4"])),
                regarding=draw(st.sampled_from([None, None, None, *ACCOUNTS, *DEALS, PEOPLE[0]])),
                planned=draw(st.booleans()) and draw(st.booleans()),
                opens=draw(st.integers(0, 2)),
                clicks=draw(st.integers(0, 1)),
            )
        )
    return book


@st.composite
def scopes(draw: st.DrawFn) -> list[RecordScope]:
    old = NOW - timedelta(days=800)
    result = [
        RecordScope(
            person,
            f"Record {person.id}",
            frozenset({person}),
            created_at=draw(st.sampled_from([None, old, NOW - timedelta(days=10)])),
        )
        # Some people have no record of their own: deals and accounts read them anyway.
        for person in PEOPLE
        if draw(st.booleans())
    ]
    for account in ACCOUNTS:
        members = draw(st.lists(st.sampled_from(CONTACTS), min_size=1, max_size=4, unique=True))
        result.append(
            RecordScope(
                account,
                f"Account {account.id}",
                frozenset(members),
                roles=((members[0], StakeholderRole.PRIMARY_CONTACT),),
            )
        )
    for deal in DEALS:
        members = draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=4, unique=True))
        roles = tuple((person, draw(st.sampled_from(_ROLES))) for person in members)
        team = draw(st.one_of(st.none(), st.frozensets(st.sampled_from(USERS), max_size=2)))
        result.append(
            RecordScope(deal, f"Deal {deal.id}", frozenset(members), team=team, roles=roles)
        )
    return draw(st.permutations(result))


@st.composite
def settings(draw: st.DrawFn) -> ScoringSettings:
    good = draw(st.integers(min_value=2, max_value=100))
    return ScoringSettings(
        influence={kind: draw(st.integers(3, 9)) for kind in Kind},
        frequency=draw(st.sampled_from(list(Frequency))),
        good_min=good,
        fair_min=draw(st.integers(min_value=0, max_value=good - 1)),
        analytics_enabled=draw(st.booleans()) or draw(st.booleans()),
    )


moments = st.sampled_from([NOW, NOW + timedelta(days=15), NOW - timedelta(days=200)])


def _close(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
    return a == b


def differences(expected: RecordHealth, actual: RecordHealth) -> list[str]:
    """What differs between the reference's result and the core's (empty: equivalent)."""
    found = []
    for name in ("record", "score", "state", "trend", "reasons", "weakest"):
        if getattr(expected, name) != getattr(actual, name):
            found.append(f"{name}: {getattr(expected, name)!r} != {getattr(actual, name)!r}")
    for kpi in fields(Kpis):
        want, got = getattr(expected.kpis, kpi.name), getattr(actual.kpis, kpi.name)
        if not _close(want, got):
            found.append(f"kpis.{kpi.name}: {want!r} != {got!r}")
    if len(expected.factors) != len(actual.factors):
        found.append(f"factors: {expected.factors!r} != {actual.factors!r}")
    for want, got in zip(expected.factors, actual.factors, strict=False):
        if (want.name, want.weight, want.detail) != (got.name, got.weight, got.detail) or not (
            _close(want.value, got.value) and _close(want.points, got.points)
        ):
            found.append(f"factor {want!r} != {got!r}")
    return found


def all_differences(
    expected: list[RecordHealth], actual: list[RecordHealth]
) -> dict[RecordRef, list[str]]:
    assert [h.record for h in expected] == [h.record for h in actual]
    return {
        want.record: found
        for want, got in zip(expected, actual, strict=True)
        if (found := differences(want, got))
    }


def reference(
    book: list[Interaction],
    records: list[RecordScope],
    chosen: ScoringSettings,
    now: datetime,
    names: dict[RecordRef, str] = NAMES,
) -> list[RecordHealth]:
    return list(score_records(records, book, chosen, now, names))


def columnar(
    book: list[Interaction],
    records: list[RecordScope],
    chosen: ScoringSettings,
    now: datetime,
    names: dict[RecordRef, str] = NAMES,
    group_visits: int | None = None,
) -> list[RecordHealth]:
    if group_visits is None:
        return list(score_columns(columns_of(book), records, chosen, now, names))
    run = ColumnarRun(columns_of(book), chosen, now, names)
    return list(run.score(records, group_visits=group_visits))


@property_settings
@given(interactions(), scopes(), settings(), moments)
def test_random_books_score_the_same(
    book: list[Interaction], records: list[RecordScope], chosen: ScoringSettings, now: datetime
) -> None:
    expected = reference(book, records, chosen, now)

    assert all_differences(expected, columnar(book, records, chosen, now)) == {}


@property_settings
@given(interactions(), scopes(), settings(), moments, st.sampled_from([1, 6, 30]))
def test_records_scored_in_small_groups_score_the_same(
    book: list[Interaction],
    records: list[RecordScope],
    chosen: ScoringSettings,
    now: datetime,
    group_visits: int,
) -> None:
    """A big book is scored a group of records at a time (memory); a deal's or
    account's people may then be in another group than the deal or account."""
    expected = reference(book, records, chosen, now)

    actual = columnar(book, records, chosen, now, group_visits=group_visits)

    assert all_differences(expected, actual) == {}


ROLLED = [
    f.deal_scope((f.DANA, StakeholderRole.DECISION_MAKER), (f.LEE, StakeholderRole.CHAMPION)),
    RecordScope(
        f.CONTOSO,
        "Contoso",
        frozenset({f.DANA, f.LEE, f.KIM}),
        roles=((f.DANA, StakeholderRole.PRIMARY_CONTACT),),
    ),
]
SCENARIOS = {
    "primary goes silent": f.primary_goes_silent,
    "one good, two poor": f.one_good_two_poor,
    "one-way outreach": f.one_way_outreach,
    "three weeks silent": f.three_weeks_silent,
    "calls only": f.calls_only,
    "meetings only": f.meetings_only,
    "their meetings only": f.their_meetings_only,
    "emails only": f.emails_only,
    "copied on a colleague's emails": f.copied_on_a_colleagues_emails,
    "two-way history": f.two_way_history,
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("now", [f.NOW, f.LATER, f.days_ago(40)], ids=["now", "later", "before"])
@pytest.mark.parametrize("frequency", [Frequency.WEEKLY, Frequency.DAILY, Frequency.MONTHLY])
def test_scenario_histories_score_the_same(
    scenario: str, now: datetime, frequency: Frequency
) -> None:
    book = SCENARIOS[scenario]()
    records = [f.contact_scope(person) for person in (f.DANA, f.LEE, f.KIM)] + ROLLED
    chosen = ScoringSettings(frequency=frequency)

    expected = reference(book, records, chosen, now, f.NAMES)

    assert all_differences(expected, columnar(book, records, chosen, now, f.NAMES)) == {}
    assert any(health.reasons for health in expected)


def _several_people_waiting() -> list[Interaction]:
    """Three people of one account and deal write to us in turn over the last weeks;
    we answer only Lee, once, in the middle. Before that, Dana and Kim declined or
    ignored our invitations, each in turn."""
    book = [
        interaction
        for person in (f.DANA, f.LEE, f.KIM)
        for interaction in f.two_way_history(person, weeks=8, end=f.days_ago(60), prefix="old")
    ]
    invitations: list[dict[RecordRef, Response | None]] = [
        {f.DANA: Response.DECLINED, f.KIM: None},
        {f.DANA: Response.ACCEPTED, f.KIM: Response.DECLINED},
        {f.KIM: Response.NONE, f.DANA: Response.NONE},
        {f.DANA: Response.DECLINED, f.KIM: Response.ACCEPTED},
    ]
    for day, answers in enumerate(invitations):
        book.append(f.meeting(f.days_ago(32 + 3 * day), attendees=answers))
    for day, person in enumerate([f.KIM, f.DANA, f.LEE, f.KIM, f.DANA, f.LEE, f.KIM], start=1):
        book.append(f.email(f.days_ago(3 * day), inbound=True, contacts=(person,)))
    book.append(f.email(f.days_ago(10), contacts=(f.LEE,)))
    return book


@pytest.mark.parametrize("now", [f.NOW, f.days_ago(12)], ids=["now", "before"])
def test_several_people_awaiting_our_reply_or_skipping_meetings_score_the_same(
    now: datetime,
) -> None:
    """Their emails awaiting our reply and their answers to our invitations are
    found per (record, person) for every record at once: one account's people
    interleave in time, which a record of one person never shows."""
    records = [f.contact_scope(person) for person in (f.DANA, f.LEE, f.KIM)] + ROLLED

    expected = reference(_several_people_waiting(), records, ScoringSettings(), now, f.NAMES)
    actual = columnar(_several_people_waiting(), records, ScoringSettings(), now, f.NAMES)

    assert all_differences(expected, actual) == {}
    deal = expected[3]
    assert sum("awaiting our reply" in reason for reason in deal.reasons) == 2


def test_a_record_reaching_a_broken_interaction_fails_alone_as_in_the_reference() -> None:
    naive = f.email(datetime(2026, 11, 1), contacts=(f.LEE,))  # noqa: DTZ001
    book = [*f.two_way_history(f.DANA), naive]
    records = [f.contact_scope(f.DANA), f.contact_scope(f.LEE), *ROLLED]

    expected = reference(book, records, ScoringSettings(), f.NOW, f.NAMES)
    actual = columnar(book, records, ScoringSettings(), f.NOW, f.NAMES)

    assert all_differences(expected, actual) == {}
    assert actual[1].reasons[0].startswith("scoring failed: ValueError")
    assert actual[0].score is not None


def test_an_old_contact_without_any_interaction_is_dormant_not_failed() -> None:
    """Found by the property above: the reference failed such a contact with an
    IndexError (its person reading asked for the latest of no interactions)."""
    old = RecordScope(f.DANA, "Dana Ruiz", frozenset({f.DANA}), created_at=f.days_ago(800))

    expected = reference([], [old], ScoringSettings(), f.NOW, f.NAMES)

    assert expected[0].state == HealthState.RECORD_OLDER_THAN_2_YEARS
    assert all_differences(expected, columnar([], [old], ScoringSettings(), f.NOW, f.NAMES)) == {}


def test_an_empty_book_scores_the_same() -> None:
    records = [f.contact_scope(f.DANA), *ROLLED]

    expected = reference([], records, ScoringSettings(), f.NOW, f.NAMES)

    assert all_differences(expected, columnar([], records, ScoringSettings(), f.NOW, f.NAMES)) == {}
