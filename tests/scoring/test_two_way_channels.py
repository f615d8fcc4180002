"""Every two-way channel is engagement, and only what a person did is theirs (issue 17)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from scoring import (
    Direction,
    HealthState,
    Interaction,
    Kind,
    Party,
    RecordRef,
    RecordType,
    Response,
    Role,
    ScoringSettings,
    rank_introducers,
)
from tests.scoring.factories import (
    DANA,
    KIM,
    LEE,
    NOW,
    SAM,
    calls_only,
    colleague,
    contact_scope,
    copied_on_a_colleagues_emails,
    days_ago,
    email,
    emails_only,
    factor,
    health_of,
    meetings_only,
    their_meetings_only,
    thread,
)


@pytest.mark.parametrize(
    "relationship",
    [calls_only, meetings_only, their_meetings_only],
    ids=lambda f: f.__name__,
)
def test_a_two_way_relationship_in_one_channel_grades_good(
    relationship: Callable[[], list[Interaction]],
) -> None:
    health = health_of(relationship())

    assert health.state == HealthState.GOOD
    assert factor(health, "engagement") == pytest.approx(1.0)


CHANNELS: dict[Kind, Callable[[RecordRef], list[Interaction]]] = {
    Kind.EMAIL: emails_only,
    Kind.CALL: calls_only,
    Kind.MEETING: meetings_only,
}


@pytest.mark.parametrize(
    ("important", "unimportant"),
    [
        (Kind.CALL, Kind.EMAIL),
        (Kind.EMAIL, Kind.CALL),
        (Kind.MEETING, Kind.EMAIL),
        (Kind.EMAIL, Kind.MEETING),
        (Kind.CALL, Kind.MEETING),
        (Kind.MEETING, Kind.CALL),
    ],
)
def test_influence_ranks_a_relationship_in_the_more_important_channel_first(
    important: Kind, unimportant: Kind
) -> None:
    """The admin sets one kind to 3 (most important) and another to 9: a healthy
    relationship held in the first channel outranks an equally healthy one held in
    the second, whichever way round the admin sets them."""
    scoring = ScoringSettings(influence={**dict.fromkeys(Kind, 6), important: 3, unimportant: 9})
    first = health_of(CHANNELS[important](DANA), contact_scope(DANA), scoring=scoring)
    second = health_of(CHANNELS[unimportant](LEE), contact_scope(LEE), scoring=scoring)

    assert first.score is not None and second.score is not None
    assert first.score > second.score


def test_being_copied_on_a_colleagues_email_is_not_engaging() -> None:
    kim = health_of(copied_on_a_colleagues_emails(), contact_scope(KIM))
    lee = health_of(copied_on_a_colleagues_emails(), contact_scope(LEE))

    assert kim.state == HealthState.POOR
    assert factor(kim, "recency") == 0.0
    assert "no reply, call or meeting from Kim Park yet" in kim.reasons
    assert not any("last two-way contact" in reason for reason in kim.reasons)
    assert lee.state == HealthState.GOOD


def test_a_colleagues_reply_in_the_thread_is_not_the_contacts_reply() -> None:
    """We write to Kim; Lee answers for her in the same conversation."""
    history: list[Interaction] = []
    for week in range(6):
        sent = days_ago(7 * week + 3)
        history += [
            email(sent, contacts=(KIM,), conversation=f"c{week}"),
            email(
                sent + timedelta(hours=2),
                inbound=True,
                contacts=(LEE, KIM),
                conversation=f"c{week}",
            ),
        ]

    kim = health_of(history, contact_scope(KIM))

    assert kim.kpis.replies_by_them == 0
    assert kim.kpis.computation_accuracy == "complete"
    assert any(r.startswith("6 emails to Kim Park unanswered since") for r in kim.reasons)


def test_an_answer_we_gave_in_another_conversation_is_not_awaiting_our_reply() -> None:
    """Lee asks in one thread; we then write to Lee in a new one: nothing is awaiting us."""
    history = [
        *thread("older", [(days_ago(12), False), (days_ago(11), True)], contacts=(LEE,)),
        *thread("question", [(days_ago(6), True)], contacts=(LEE,)),
        *thread(
            "new",
            [(days_ago(4), False), (days_ago(3), True), (days_ago(2), False)],
            contacts=(LEE,),
        ),
    ]

    reasons = health_of(history, contact_scope(LEE)).reasons

    assert not any("awaiting our reply" in reason for reason in reasons)


def test_an_email_after_our_last_word_is_awaiting_our_reply_in_any_conversation() -> None:
    history = [
        *thread("older", [(days_ago(12), False), (days_ago(11), True)], contacts=(LEE,)),
        email(days_ago(9), contacts=(LEE,), conversation="news"),
        *thread("question", [(days_ago(6), True)], contacts=(LEE,)),
        email(days_ago(5), inbound=True, contacts=(LEE,), conversation="news"),
    ]

    reasons = health_of(history, contact_scope(LEE)).reasons

    assert "2 emails from Lee Chen awaiting our reply since 2026-11-12" in reasons


def test_who_knows_whom_does_not_count_a_declined_meeting_of_theirs_as_two_way() -> None:
    declined = [
        Interaction(
            key=f"their-{week}",
            kind=Kind.MEETING,
            direction=Direction.INBOUND,
            occurred_at=days_ago(7 * week + 1),
            internal=(colleague(SAM, Response.ACCEPTED),),
            external=(Party(LEE, Role.ORGANIZER), Party(KIM, Role.REQUIRED, Response.DECLINED)),
        )
        for week in range(6)
    ]

    ranked = rank_introducers(declined, ScoringSettings(), NOW)

    [lee] = ranked[LEE]
    [kim] = ranked[KIM]
    assert lee.strength > 25
    assert kim.strength <= 25  # one-way: at most a quarter of full strength


def test_our_system_user_type_is_not_ranked() -> None:
    assert RecordRef(RecordType.SYSTEM_USER, SAM) not in rank_introducers(
        calls_only(), ScoringSettings(), NOW
    )
