"""Deals and accounts read from their people's health (issue 17, items 1-2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scoring import (
    HealthState,
    Interaction,
    RecordHealth,
    RecordRef,
    RecordScope,
    RecordType,
    ScoringSettings,
    StakeholderRole,
    Trend,
    score_records,
)
from scoring.rollup import PersonReading, account_rollup, stakeholder_role
from tests.scoring.factories import (
    CONTOSO,
    DANA,
    KIM,
    LATER,
    LEE,
    NAMES,
    NOW,
    contact_scope,
    deal_scope,
    one_good_two_poor,
    primary_goes_silent,
    two_way_history,
)

DM, CHAMPION = StakeholderRole.DECISION_MAKER, StakeholderRole.CHAMPION


def score(scope: RecordScope, history: list[Interaction], now: datetime = LATER) -> RecordHealth:
    [health] = score_records([scope], history, ScoringSettings(), now, NAMES)
    return health


FLAGSHIP = deal_scope((DANA, DM), (DANA, StakeholderRole.CUSTOMER_CONTACT), (LEE, CHAMPION))


class TestSilentDecisionMaker:
    def test_the_deal_goes_from_good_to_fair_or_worse_and_declines(self) -> None:
        before = score(FLAGSHIP, primary_goes_silent(), NOW)
        after = score(FLAGSHIP, primary_goes_silent())

        assert before.state == HealthState.GOOD
        assert after.state in (HealthState.FAIR, HealthState.POOR)
        assert after.trend == Trend.DECLINING

    def test_the_silent_decision_maker_is_the_first_reason(self) -> None:
        after = score(FLAGSHIP, primary_goes_silent())

        assert after.reasons[0] == (
            "Dana Ruiz (decision maker) has not answered 3 emails since 2026-11-21 "
            "and skipped 2 of the last 3 meetings"
        )
        assert "single-threaded: Lee Chen is the only engaged contact" in after.reasons

    def test_the_weakest_key_contact_is_written_with_score_and_since(self) -> None:
        after = score(FLAGSHIP, primary_goes_silent())
        dana = score(contact_scope(DANA), primary_goes_silent())

        assert after.weakest is not None
        assert after.weakest.person == DANA
        assert after.weakest.role == DM
        assert after.weakest.score == dana.score
        assert after.weakest.since == datetime(2026, 11, 17, 12, tzinfo=UTC)
        assert after.score == dana.score  # held at the weakest key contact's score

    def test_the_engaged_champion_alone_no_longer_hides_the_decision_maker(self) -> None:
        """v1 pooled both and graded this deal Good."""
        after = score(FLAGSHIP, primary_goes_silent())
        lee = score(contact_scope(LEE), primary_goes_silent())

        assert lee.state == HealthState.GOOD
        assert after.score is not None and lee.score is not None
        assert after.score < lee.score


def test_a_deal_whose_key_contacts_are_all_engaged_stays_good() -> None:
    history = [*two_way_history(DANA, prefix="a"), *two_way_history(LEE, prefix="b")]

    health = score(deal_scope((DANA, DM), (LEE, DM)), history, NOW)

    assert health.state == HealthState.GOOD
    assert not any(reason.startswith("single-threaded") for reason in health.reasons)


def test_a_single_threaded_deal_is_flagged() -> None:
    history = two_way_history(DANA)

    health = score(deal_scope((DANA, DM), (LEE, StakeholderRole.INFLUENCER)), history, NOW)

    assert health.state == HealthState.GOOD
    assert "single-threaded: Dana Ruiz is the only engaged contact" in health.reasons


def test_a_silent_influencer_does_not_hold_the_deal_down() -> None:
    history = [
        *two_way_history(DANA, prefix="a"),
        *two_way_history(LEE, weeks=8, end=NOW - timedelta(days=120)),
    ]

    health = score(deal_scope((DANA, DM), (LEE, StakeholderRole.INFLUENCER)), history, NOW)

    assert health.state == HealthState.GOOD


def test_an_account_with_one_good_and_two_poor_contacts_is_not_good() -> None:
    history = one_good_two_poor()
    scope = RecordScope(
        CONTOSO,
        "Contoso",
        frozenset({DANA, LEE, KIM}),
        roles=((LEE, StakeholderRole.PRIMARY_CONTACT),),
    )

    health = score(scope, history, NOW)
    lee = score(contact_scope(LEE), history, NOW)
    kim = score(contact_scope(KIM), history, NOW)

    assert lee.state == HealthState.POOR and kim.state == HealthState.POOR
    assert health.state != HealthState.GOOD
    assert health.reasons[0] == f"Lee Chen (primary contact) is Poor ({lee.score}) and declining"
    assert f"Kim Park is Poor ({kim.score}) and declining" in health.reasons
    assert "0 of 1 key people engaged" in health.reasons


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("Decision maker", StakeholderRole.DECISION_MAKER),
        ("Executive sponsor", StakeholderRole.DECISION_MAKER),
        ("Director of Procurement", StakeholderRole.ECONOMIC_BUYER),
        ("economic_buyer", StakeholderRole.ECONOMIC_BUYER),
        ("CFO", StakeholderRole.ECONOMIC_BUYER),
        ("Champion", StakeholderRole.CHAMPION),
        ("Technical evaluator", StakeholderRole.INFLUENCER),
        ("Regional Operations Manager", StakeholderRole.INFLUENCER),
        ("Influencer", StakeholderRole.INFLUENCER),
        ("Legal", StakeholderRole.OTHER),
        ("IT contractor", StakeholderRole.OTHER),  # not "cto"
        ("Head of Treasury", StakeholderRole.DECISION_MAKER),
        ("Budget-holder", StakeholderRole.ECONOMIC_BUYER),
        ("", StakeholderRole.OTHER),
        (None, StakeholderRole.OTHER),
    ],
)
def test_free_text_roles_map_onto_the_vocabulary(text: str | None, role: StakeholderRole) -> None:
    assert stakeholder_role(text) == role


def test_an_account_rolls_up_its_current_contacts_key_people_twice() -> None:
    """account_rollup on plain readings: the weighted mean, who is named at risk and in
    which order (worst first, key people first on equal scores), and the weakest key
    person (lowest score, then first by ref)."""
    ann, bob, cat, dan, eve = (RecordRef(RecordType.CONTACT, c) for c in "abcde")
    scope = RecordScope(
        RecordRef(RecordType.ACCOUNT, "acme"),
        "Acme",
        frozenset({ann, bob, cat, dan, eve}),
        roles=((cat, StakeholderRole.PRIMARY_CONTACT), (bob, DM), (cat, DM)),
    )
    now_ts = LATER.timestamp()
    recent, long_ago = now_ts - 86_400.0, now_ts - 200 * 86_400.0
    readings = {
        ann: PersonReading(30, 32, recent, recent),  # Poor, not key
        bob: PersonReading(30, 50, recent, recent),  # Poor and declining, key
        cat: PersonReading(30, None, None, long_ago),  # Poor, key: counted though quiet
        dan: PersonReading(70, 80, recent, recent),  # Good but declining
        eve: PersonReading(10, 10, None, long_ago),  # not key, quiet: not current
    }

    rollup = account_rollup(scope, 55, 57, readings, 60, 40, now_ts, lambda ref: ref.id.upper())

    assert rollup.score == round((30 + 30 * 2 + 30 * 2 + 70) / 6)
    assert rollup.before == round((32 + 50 * 2 + 80) / 4)
    assert rollup.reasons == [
        "B (decision maker) is Poor (30) and declining",
        "C (decision maker) is Poor (30)",
        "A is Poor (30)",
        "0 of 2 key people engaged",
    ]
    assert rollup.weakest == (bob, DM, readings[bob])
    assert rollup.detail == "weighted mean of 4 contacts' scores; 0 of 2 key people engaged"
