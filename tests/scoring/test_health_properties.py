"""Properties that hold for any history, not just the ones we thought of."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from hypothesis import given, reject
from hypothesis import strategies as st

from scoring import (
    Direction,
    Frequency,
    HealthState,
    Interaction,
    Kind,
    Party,
    RecordHealth,
    RecordRef,
    RecordScope,
    RecordType,
    Response,
    Role,
    ScoringSettings,
    StakeholderRole,
    score_records,
)
from tests.scoring.factories import (
    DANA,
    KIM,
    LEE,
    NAMES,
    NOW,
    SAM,
    call,
    colleague,
    contact_scope,
    email,
    factor,
    meeting,
    property_settings,
)

ACCOUNT = RecordScope(
    RecordRef(RecordType.ACCOUNT, "contoso"),
    "Contoso",
    frozenset({DANA, LEE}),
    roles=((DANA, StakeholderRole.PRIMARY_CONTACT),),
)
DEAL = RecordScope(
    RecordRef(RecordType.OPPORTUNITY, "deal"),
    "Deal",
    frozenset({DANA, LEE}),
    team=frozenset({SAM}),
    roles=((DANA, StakeholderRole.DECISION_MAKER), (LEE, StakeholderRole.INFLUENCER)),
)
SCOPES = [contact_scope(DANA), contact_scope(LEE), ACCOUNT, DEAL]
GRADED = {HealthState.GOOD, HealthState.FAIR, HealthState.POOR}


@st.composite
def interaction_at(draw: st.DrawFn, key: int, *, completed: bool) -> Interaction:
    kind = draw(st.sampled_from(Kind))
    inbound = draw(st.booleans())
    minutes_ago = draw(
        st.integers(min_value=0 if completed else -30 * 24 * 60, max_value=400 * 24 * 60)
    )
    people = draw(st.sampled_from([(DANA,), (LEE,), (DANA, LEE)]))
    answers = [draw(st.sampled_from([None, *Response])) for _ in people]
    return Interaction(
        key=f"i{key}",
        kind=kind,
        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
        occurred_at=NOW - timedelta(minutes=minutes_ago),
        internal=(
            colleague(
                draw(st.sampled_from([SAM, "alex"])), draw(st.sampled_from([None, *Response]))
            ),
        ),
        external=tuple(
            Party(ref, Role.FROM if inbound and i == 0 else Role.TO, answer)
            for i, (ref, answer) in enumerate(zip(people, answers, strict=True))
        ),
        duration_minutes=draw(st.sampled_from([0.0, 15.0, 60.0])),
        conversation_id=draw(st.sampled_from([None, "a", "b", "c"])),
        planned=not completed and draw(st.booleans()),
        opens=draw(st.integers(min_value=0, max_value=3)),
    )


@st.composite
def histories(draw: st.DrawFn, *, min_size: int = 0, completed: bool = False) -> list[Interaction]:
    size = draw(st.integers(min_value=min_size, max_value=16))
    return [draw(interaction_at(key, completed=completed)) for key in range(size)]


def settings_strategy() -> st.SearchStrategy[ScoringSettings]:
    influence = st.fixed_dictionaries(
        {kind: st.integers(min_value=3, max_value=9) for kind in Kind}
    )
    return st.builds(
        ScoringSettings,
        influence=influence,
        frequency=st.sampled_from(Frequency),
        analytics_enabled=st.booleans(),
    )


def score_all(
    history: list[Interaction], scoring: ScoringSettings | None = None, now: datetime = NOW
) -> list[RecordHealth]:
    return list(score_records(SCOPES, history, scoring or ScoringSettings(), now, NAMES))


@property_settings
@given(history=histories(), scoring=settings_strategy())
def test_score_is_between_0_and_100_or_absent(
    history: list[Interaction], scoring: ScoringSettings
) -> None:
    for health in score_all(history, scoring):
        if health.score is None:
            assert health.state not in GRADED
        else:
            assert 0 <= health.score <= 100
            assert health.state in GRADED
        assert health.state != HealthState.SOMETHING_WENT_WRONG
        assert len(health.reasons) <= 5


@property_settings
@given(history=histories(), scoring=settings_strategy(), seed=st.integers())
def test_scoring_is_deterministic_whatever_the_input_order(
    history: list[Interaction], scoring: ScoringSettings, seed: int
) -> None:
    shuffled = list(history)
    random.Random(seed).shuffle(shuffled)

    first = score_all(history, scoring)

    assert score_all(history, scoring) == first
    assert score_all(shuffled, scoring) == first


def email_and_reply(sent_minutes_ago: int, reply_share: float) -> tuple[Interaction, Interaction]:
    """Our email to Dana and her reply, `reply_share` of the way from sending to NOW."""
    sent = NOW - timedelta(minutes=sent_minutes_ago)
    ours = email(sent, contacts=(DANA,), conversation="fresh", key="ours")
    reply_at = sent + timedelta(minutes=1 + (sent_minutes_ago - 1) * reply_share)
    reply = email(reply_at, inbound=True, contacts=(DANA,), conversation="fresh", key="reply")
    return ours, reply


def engagement_of(history: list[Interaction]) -> float | None:
    """Dana's engagement factor; None while she has too little history to be graded."""
    [health] = score_records([contact_scope(DANA)], history, ScoringSettings(), NOW, NAMES)
    return factor(health, "engagement") if health.state in GRADED else None


@property_settings
@given(
    history=histories(min_size=5, completed=True),
    sent_minutes_ago=st.integers(min_value=60, max_value=60 * 24 * 60),
    reply_share=st.floats(min_value=0.0, max_value=1.0),
)
def test_a_reply_from_the_customer_never_lowers_engagement(
    history: list[Interaction], sent_minutes_ago: int, reply_share: float
) -> None:
    ours, reply = email_and_reply(sent_minutes_ago, reply_share)

    without = engagement_of([*history, ours])
    if without is None:
        reject()  # a history that is mostly Lee's leaves Dana ungraded: nothing to compare
    with_reply = engagement_of([*history, ours, reply])

    assert with_reply is not None  # one more completed interaction keeps her graded
    assert with_reply >= without - 1e-12


@property_settings
@given(
    history=histories(min_size=5, completed=True),
    days_later=st.floats(min_value=0.0, max_value=400.0),
)
def test_time_passing_without_activity_never_raises_recency(
    history: list[Interaction], days_later: float
) -> None:
    later = NOW + timedelta(days=days_later)

    for now_health, later_health in zip(
        score_all(history), score_all(history, now=later), strict=True
    ):
        if now_health.state in GRADED and later_health.state in GRADED:
            assert factor(later_health, "recency") <= factor(now_health, "recency")


@property_settings
@given(history=histories(min_size=5, completed=True))
def test_a_contact_with_five_completed_interactions_is_always_graded(
    history: list[Interaction],
) -> None:
    [health] = score_records([ACCOUNT], history, ScoringSettings(), NOW, NAMES)

    assert health.state in GRADED


def score_of(scope: RecordScope, history: list[Interaction], now: datetime = NOW) -> int | None:
    [health] = score_records([scope], history, ScoringSettings(), now, NAMES)
    return health.score if health.state in GRADED else None


@property_settings
@given(
    history=histories(min_size=5, completed=True),
    sent_minutes_ago=st.integers(min_value=60, max_value=60 * 24 * 60),
    reply_share=st.floats(min_value=0.0, max_value=1.0),
)
def test_a_reply_from_the_customer_never_lowers_a_score(
    history: list[Interaction], sent_minutes_ago: int, reply_share: float
) -> None:
    """Dana's reply to our email: neither her score nor the deal's (she is its
    decision maker) goes down."""
    ours, reply = email_and_reply(sent_minutes_ago, reply_share)

    for scope in (contact_scope(DANA), DEAL):
        without = score_of(scope, [*history, ours])
        with_reply = score_of(scope, [*history, ours, reply])
        if without is not None and with_reply is not None:
            assert with_reply >= without, scope.record


@property_settings
@given(
    history=histories(min_size=5, completed=True),
    days_later=st.floats(min_value=0.0, max_value=400.0),
)
def test_silence_never_raises_a_relationships_score(
    history: list[Interaction], days_later: float
) -> None:
    """Time passing with nothing new never raises a contact's score. (A deal or an
    account can rise when a person who went quiet leaves their grading: see
    docs/scoring.md, "Deals and accounts".)"""
    later = NOW + timedelta(days=days_later)

    for person in (DANA, LEE):
        now_score = score_of(contact_scope(person), history)
        later_score = score_of(contact_scope(person), history, later)
        if now_score is not None and later_score is not None:
            assert later_score <= now_score


def engaged_history(
    person: RecordRef, weeks: int, gap_days: int, end_days_ago: int
) -> list[Interaction]:
    """A customer who answers every email at once, accepts every meeting, takes calls."""
    history: list[Interaction] = []
    for week in range(weeks):
        at = NOW - timedelta(days=end_days_ago + gap_days * week)
        conversation = f"engaged-{person.id}-{week}"
        history += [
            # Answered at once: the same second, the reply second (ties go by key).
            email(at, contacts=(person,), conversation=conversation, key=f"k-{week}-a-ours"),
            email(
                at,
                inbound=True,
                contacts=(person,),
                conversation=conversation,
                key=f"k-{week}-b-reply",
            ),
            meeting(
                at + timedelta(hours=1), attendees={person: Response.ACCEPTED}, key=f"k-meet-{week}"
            ),
            call(at + timedelta(hours=2), contact=person, key=f"k-call-{week}"),
        ]
    return history


@property_settings
@given(
    history=histories(min_size=5, completed=True),
    weeks=st.integers(min_value=2, max_value=12),
    gap_days=st.integers(min_value=3, max_value=10),
    end_days_ago=st.integers(min_value=0, max_value=6),
)
def test_adding_an_engaged_key_contact_never_lowers_a_deal(
    history: list[Interaction], weeks: int, gap_days: int, end_days_ago: int
) -> None:
    kim = engaged_history(KIM, weeks, gap_days, end_days_ago)
    kim_score = score_of(contact_scope(KIM), kim)
    if kim_score is None or kim_score < ScoringSettings().good_min:
        reject()  # only an engaged (Good) contact is the premise
    with_kim = RecordScope(
        DEAL.record,
        DEAL.name,
        DEAL.people | {KIM},
        team=DEAL.team,
        roles=(*DEAL.roles, (KIM, StakeholderRole.DECISION_MAKER)),
    )

    without = score_of(DEAL, history)
    with_engaged = score_of(with_kim, [*history, *kim])

    if without is not None:
        assert with_engaged is not None and with_engaged >= without
