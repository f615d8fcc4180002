"""Who knows whom: which colleague to ask for an introduction, and how strongly they know them."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import (
    Direction,
    Interaction,
    Introducer,
    Kind,
    Party,
    RecordRef,
    RecordType,
    Response,
    Role,
    ScoringSettings,
    StrengthLabel,
    rank_introducers,
)
from scoring.introducers import (
    MAX_INTRODUCERS,
    MODERATE_MIN,
    ONE_WAY_SHARE,
    STRONG_MIN,
    relationship_strength,
    strength_label,
)
from tests.scoring.factories import (
    ALEX,
    CONTOSO,
    DANA,
    LEAD_ROBIN,
    LEE,
    NOW,
    SAM,
    call,
    colleague,
    days_ago,
    email,
    meeting,
    property_settings,
    task,
)

KIM_USER = "kim-user"


def ranking(
    interactions: list[Interaction], **options: object
) -> dict[RecordRef, tuple[Introducer, ...]]:
    return rank_introducers(interactions, ScoringSettings(), NOW, **options)  # type: ignore[arg-type]


def colleagues_of(
    ranked: dict[RecordRef, tuple[Introducer, ...]], record: RecordRef = DANA
) -> list[str]:
    return [introducer.system_user_id for introducer in ranked.get(record, ())]


def strength_of(
    ranked: dict[RecordRef, tuple[Introducer, ...]], user: str, record: RecordRef = DANA
) -> int:
    return next((i.strength for i in ranked.get(record, ()) if i.system_user_id == user), 0)


def weekly_exchange(user: str, weeks: int, *, start_days_ago: float = 2) -> list[Interaction]:
    """Our colleague writes every week and the customer answers."""
    history = []
    for week in range(weeks):
        at = days_ago(start_days_ago + 7 * week)
        history.append(email(at, users=(user,)))
        history.append(email(at + timedelta(hours=4), inbound=True, users=(user,)))
    return history


def test_the_colleague_the_customer_answers_ranks_first_and_strong() -> None:
    answered = weekly_exchange(SAM, 12)
    unanswered = [email(days_ago(d), users=(ALEX,)) for d in range(1, 40)]

    ranked = ranking(answered + unanswered)

    sam, alex = ranked[DANA]
    assert (sam.system_user_id, sam.rank, sam.label) == (SAM, 1, StrengthLabel.STRONG)
    assert sam.strength >= STRONG_MIN
    # 39 emails the customer never answered: a weak acquaintance at best.
    assert (alex.system_user_id, alex.rank, alex.label) == (ALEX, 2, StrengthLabel.WEAK)
    assert alex.strength <= 100 * ONE_WAY_SHARE
    assert sam.last_interaction_at == days_ago(2) + timedelta(hours=4)


def test_a_recent_relationship_outranks_one_that_went_quiet_a_year_ago() -> None:
    last_year = weekly_exchange(SAM, 12, start_days_ago=365)
    this_month = weekly_exchange(ALEX, 4)

    ranked = ranking(last_year + this_month)

    assert colleagues_of(ranked) == [ALEX, SAM]
    assert ranked[DANA][1].last_interaction_at == days_ago(365) + timedelta(hours=4)


def test_meetings_count_more_when_the_admin_says_they_matter_more() -> None:
    meetings = [meeting(days_ago(d), users={SAM: Response.ACCEPTED}) for d in (3, 10, 17)]
    emails = [email(days_ago(d), inbound=True, users=(ALEX,)) for d in (3, 10, 17)]

    neutral = ranking(meetings + emails)
    assert strength_of(neutral, SAM) == strength_of(neutral, ALEX)

    weighted = rank_introducers(
        meetings + emails,
        ScoringSettings(influence={Kind.EMAIL: 6, Kind.MEETING: 3, Kind.CALL: 6, Kind.TASK: 6}),
        NOW,
    )
    assert colleagues_of(weighted) == [SAM, ALEX]
    assert strength_of(weighted, SAM) > strength_of(weighted, ALEX)


def test_excluded_colleagues_never_appear() -> None:
    history = weekly_exchange(SAM, 8) + weekly_exchange(ALEX, 2)

    ranked = ranking(history, excluded={SAM})

    assert colleagues_of(ranked) == [ALEX]
    assert ranking(history, colleagues={SAM}, excluded={SAM}) == {}


def test_only_known_colleagues_and_records_are_ranked() -> None:
    history = weekly_exchange(SAM, 3) + weekly_exchange(ALEX, 3)
    history.append(email(days_ago(1), inbound=True, contacts=(LEE,), users=(SAM,)))

    ranked = ranking(history, colleagues={ALEX}, records={DANA})

    assert list(ranked) == [DANA]
    assert colleagues_of(ranked) == [ALEX]


def test_leads_get_introducers_and_accounts_do_not() -> None:
    history = [
        email(days_ago(1), inbound=True, contacts=(LEAD_ROBIN,), users=(SAM,)),
        # A party that is not a person (a CRM oddity) is never ranked.
        email(days_ago(1), inbound=True, contacts=(CONTOSO,), users=(SAM,)),
    ]

    ranked = ranking(history)

    assert list(ranked) == [LEAD_ROBIN]
    assert colleagues_of(ranked, LEAD_ROBIN) == [SAM]


def test_planned_future_and_declined_meetings_are_not_acquaintance() -> None:
    history = [
        meeting(NOW + timedelta(days=3), users={SAM: Response.ACCEPTED}, planned=True),
        email(NOW + timedelta(hours=1), inbound=True, users=(SAM,)),
        meeting(days_ago(2), users={ALEX: Response.DECLINED, KIM_USER: Response.ACCEPTED}),
    ]

    assert colleagues_of(ranking(history)) == [KIM_USER]


def test_being_copied_counts_less_than_writing() -> None:
    history = [email(days_ago(d), users=(SAM, ALEX), inbound=True) for d in (1, 8)]
    # The factory puts every colleague in To on inbound mail; make Alex a Cc.
    copied = [
        Interaction(
            key=f"cc-{i.key}",
            kind=i.kind,
            direction=i.direction,
            occurred_at=i.occurred_at,
            internal=(colleague(SAM, role=Role.TO), colleague(ALEX, role=Role.CC)),
            external=i.external,
        )
        for i in history
    ]

    ranked = ranking(copied)

    assert colleagues_of(ranked) == [SAM, ALEX]
    assert strength_of(ranked, SAM) > strength_of(ranked, ALEX)


def test_a_customer_copied_on_an_email_did_not_write_it() -> None:
    history = [email(days_ago(d), inbound=True, contacts=(DANA, LEE)) for d in (1, 8, 15)]

    ranked = ranking(history)

    assert strength_of(ranked, SAM, DANA) > strength_of(ranked, SAM, LEE)
    assert strength_of(ranked, SAM, LEE) <= 100 * ONE_WAY_SHARE


def test_calls_and_accepted_meetings_are_two_way_tasks_are_not() -> None:
    two_way = [call(days_ago(d)) for d in (1, 8, 15)]
    one_way = [task(days_ago(d)) for d in (1, 8, 15)]

    assert strength_of(ranking(two_way), SAM) > 100 * ONE_WAY_SHARE * 0.9
    assert strength_of(ranking(one_way), SAM) <= 100 * ONE_WAY_SHARE


def test_ties_rank_the_more_recent_acquaintance_first_then_by_id() -> None:
    history = [
        email(days_ago(5), inbound=True, users=("zoe",)),
        email(days_ago(5), inbound=True, users=("amy",)),
    ]

    assert colleagues_of(ranking(history)) == ["amy", "zoe"]


def test_a_record_lists_at_most_the_limit() -> None:
    users = [f"user-{n:02d}" for n in range(MAX_INTRODUCERS + 3)]
    history = [email(days_ago(1), inbound=True, users=(user,)) for user in users]

    ranked = ranking(history)
    assert len(ranked[DANA]) == MAX_INTRODUCERS
    assert [i.rank for i in ranked[DANA]] == list(range(1, MAX_INTRODUCERS + 1))
    assert len(ranking(history, limit=2)[DANA]) == 2


@pytest.mark.parametrize(
    ("strength", "label"),
    [
        (100, StrengthLabel.STRONG),
        (STRONG_MIN, StrengthLabel.STRONG),
        (STRONG_MIN - 1, StrengthLabel.MODERATE),
        (MODERATE_MIN, StrengthLabel.MODERATE),
        (MODERATE_MIN - 1, StrengthLabel.WEAK),
        (1, StrengthLabel.WEAK),
    ],
)
def test_labels_follow_the_named_thresholds(strength: int, label: StrengthLabel) -> None:
    assert strength_label(strength) is label


def test_strength_saturates_and_one_way_is_capped() -> None:
    assert relationship_strength(0.0, 0.0) == 0
    assert relationship_strength(1000.0, 1000.0) == 100
    assert relationship_strength(1000.0, 0.0) == round(100 * ONE_WAY_SHARE)


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"limit": 0}, "limit must be at least 1"), ({"now": NOW.replace(tzinfo=None)}, "now must")],
)
def test_bad_arguments_are_refused_by_name(changes: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"now": NOW, **changes}
    now = arguments.pop("now")
    with pytest.raises(ValueError, match=message):
        rank_introducers([], ScoringSettings(), now, **arguments)  # type: ignore[arg-type]


def test_a_bad_influence_setting_is_refused() -> None:
    with pytest.raises(ValueError, match=r"influence\[email\]"):
        rank_introducers([], ScoringSettings(influence={Kind.EMAIL: 12}), NOW)


# --- properties -----------------------------------------------------------------------------

USERS = (SAM, ALEX, KIM_USER)
PEOPLE = (DANA, LEE, LEAD_ROBIN)
RESPONSES = (Response.ACCEPTED, Response.TENTATIVE, Response.DECLINED, Response.NONE, None)


@st.composite
def interactions(draw: st.DrawFn) -> Interaction:
    kind = draw(st.sampled_from(list(Kind)))
    users = draw(st.lists(st.sampled_from(USERS), min_size=1, max_size=3, unique=True))
    people = draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=2, unique=True))
    return Interaction(
        key=f"p-{draw(st.integers(0, 10**9))}",
        kind=kind,
        direction=draw(st.sampled_from(list(Direction))),
        occurred_at=NOW - timedelta(minutes=draw(st.integers(-1440, 600 * 1440))),
        internal=tuple(
            Party(
                RecordRef(RecordType.SYSTEM_USER, user),
                draw(st.sampled_from([Role.FROM, Role.TO, Role.CC, Role.REQUIRED])),
                draw(st.sampled_from(RESPONSES)),
            )
            for user in users
        ),
        external=tuple(
            Party(person, Role.TO, draw(st.sampled_from(RESPONSES))) for person in people
        ),
        planned=draw(st.booleans()),
    )


histories = st.lists(interactions(), max_size=40)


@property_settings
@given(histories)
def test_strengths_stay_within_0_100_and_ranks_are_consecutive(history: list[Interaction]) -> None:
    for introducers in ranking(history).values():
        assert [i.rank for i in introducers] == list(range(1, len(introducers) + 1))
        strengths = [i.strength for i in introducers]
        assert all(1 <= s <= 100 for s in strengths)
        assert strengths == sorted(strengths, reverse=True)
        assert all(i.label is strength_label(i.strength) for i in introducers)
        assert all(i.last_interaction_at <= NOW for i in introducers)


@property_settings
@given(histories, st.randoms(use_true_random=False))
def test_the_ranking_is_deterministic_whatever_the_order(
    history: list[Interaction], shuffler: random.Random
) -> None:
    shuffled = list(history)
    shuffler.shuffle(shuffled)

    assert ranking(shuffled) == ranking(history)


@property_settings
@given(
    histories,
    st.sampled_from(USERS),
    st.sampled_from(PEOPLE),
    st.sampled_from(["inbound_email", "call", "accepted_meeting"]),
    st.integers(0, 500 * 1440),
)
def test_an_extra_two_way_interaction_never_lowers_a_colleagues_strength(
    history: list[Interaction], user: str, person: RecordRef, kind: str, minutes_ago: int
) -> None:
    at = NOW - timedelta(minutes=minutes_ago)
    extra = {
        "inbound_email": email(at, inbound=True, contacts=(person,), users=(user,)),
        "call": call(at, contact=person, users=(user,)),
        "accepted_meeting": meeting(
            at, attendees={person: Response.ACCEPTED}, users={user: Response.ACCEPTED}
        ),
    }[kind]

    before = ranking(history, limit=len(USERS))
    after = ranking([*history, extra], limit=len(USERS))

    assert strength_of(after, user, person) >= strength_of(before, user, person)
    for other in set(USERS) - {user}:
        assert strength_of(after, other, person) == strength_of(before, other, person)
