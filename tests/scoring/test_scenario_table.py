"""Scenarios from the seeds and from sales practice: grade, trend and first reason.

Each row is a relationship a seller recognises, scored as the worker scores a
book (score_records). The first reason is what a seller reads first: it must
name who to act on. Written for issue 17 (scoring v2): v1 graded the flagship
deal Good, calls-only and copied-only relationships wrongly, and an account
with one Good and two Poor contacts Good.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from scoring import (
    Frequency,
    HealthState,
    Interaction,
    Kind,
    RecordHealth,
    RecordRef,
    RecordScope,
    ScoringSettings,
    StakeholderRole,
    Trend,
    score_records,
)
from tests.scoring.factories import (
    CONTOSO,
    DANA,
    KIM,
    LATER,
    LEE,
    NAMES,
    NOW,
    calls_only,
    contact_scope,
    copied_on_a_colleagues_emails,
    days_ago,
    deal_scope,
    emails_only,
    meetings_only,
    one_good_two_poor,
    one_way_outreach,
    primary_goes_silent,
    task,
    their_meetings_only,
    thread,
    three_weeks_silent,
    two_way_history,
)

GOOD, FAIR, POOR = HealthState.GOOD, HealthState.FAIR, HealthState.POOR
AT_RISK = (FAIR, POOR)
DM, CHAMPION = StakeholderRole.DECISION_MAKER, StakeholderRole.CHAMPION
CUSTOMER, PRIMARY = StakeholderRole.CUSTOMER_CONTACT, StakeholderRole.PRIMARY_CONTACT


def account(people: frozenset[RecordRef], *roles: tuple[RecordRef, StakeholderRole]) -> RecordScope:
    return RecordScope(CONTOSO, "Contoso", people, roles=roles)


@dataclass(frozen=True)
class Scenario:
    name: str
    scope: RecordScope
    history: Callable[[], list[Interaction]]
    grades: tuple[HealthState, ...]
    trend: Trend
    first_reason: str  # the first reason starts with this
    now: datetime = NOW
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    also: str | None = None  # another reason that must be given


def both_engaged() -> list[Interaction]:
    return [*two_way_history(DANA, prefix="a"), *two_way_history(LEE, prefix="b")]


def back_after_a_quiet_month() -> list[Interaction]:
    return [
        *two_way_history(DANA, weeks=8, end=days_ago(45), prefix="old"),
        *two_way_history(DANA, weeks=2, prefix="new"),
    ]


def waiting_on_us() -> list[Interaction]:
    return [
        *two_way_history(LEE, weeks=6, end=days_ago(5)),
        *thread("question", [(days_ago(4), True), (days_ago(3), True)], contacts=(LEE,)),
    ]


def tasks_only() -> list[Interaction]:
    return [task(days_ago(d)) for d in (1, 2, 3)]


def calls_for_dana_emails_for_lee() -> list[Interaction]:
    return [*calls_only(DANA), *emails_only(LEE)]


CALLS_FIRST = ScoringSettings(influence={**dict.fromkeys(Kind, 6), Kind.CALL: 3, Kind.EMAIL: 9})
FLAGSHIP_DEAL = deal_scope((DANA, DM), (DANA, CUSTOMER), (LEE, CHAMPION))
FLAGSHIP_ACCOUNT = account(frozenset({DANA, LEE}), (DANA, PRIMARY), (DANA, DM))

SCENARIOS = [
    # 1-4: the seed scenario (REFERENCE.md, Seller insights) 30 days into the silence.
    Scenario(
        "flagship deal",
        FLAGSHIP_DEAL,
        primary_goes_silent,
        AT_RISK,
        Trend.DECLINING,
        "Dana Ruiz (decision maker) has not answered 3 emails since 2026-11-21 and "
        "skipped 2 of the last 3 meetings",
        now=LATER,
    ),
    Scenario(
        "flagship deal, before the silence",
        FLAGSHIP_DEAL,
        primary_goes_silent,
        (GOOD,),
        Trend.STEADY,
        "last two-way contact with Dana Ruiz on 2026-11-17",
    ),
    Scenario(
        "flagship primary contact",
        contact_scope(DANA),
        primary_goes_silent,
        AT_RISK,
        Trend.DECLINING,
        "no reply, call or meeting from Dana Ruiz since 2026-11-17",
        now=LATER,
    ),
    Scenario(
        "flagship secondary contact",
        contact_scope(LEE),
        primary_goes_silent,
        (GOOD,),
        Trend.STEADY,
        "last two-way contact with Lee Chen on 2026-12-17",
        now=LATER,
    ),
    Scenario(
        "flagship account",
        FLAGSHIP_ACCOUNT,
        primary_goes_silent,
        (GOOD, FAIR),
        Trend.DECLINING,
        "Dana Ruiz (decision maker) is Fair",
        now=LATER,
    ),
    # 6-9: every two-way channel is engagement.
    Scenario(
        "calls only",
        contact_scope(),
        calls_only,
        (GOOD,),
        Trend.STEADY,
        "last two-way contact with Dana Ruiz on 2026-11-16",
    ),
    Scenario(
        "meetings only",
        contact_scope(),
        meetings_only,
        (GOOD,),
        Trend.STEADY,
        "last two-way contact with Dana Ruiz on 2026-11-16",
    ),
    Scenario(
        "meetings they organise",
        contact_scope(),
        their_meetings_only,
        (GOOD,),
        Trend.STEADY,
        "last two-way contact with Dana Ruiz on 2026-11-16",
    ),
    Scenario(
        "copied on a colleague's emails only",
        contact_scope(KIM),
        copied_on_a_colleagues_emails,
        (POOR,),
        Trend.STEADY,
        "4 emails to Kim Park unanswered since 2026-09-24",
        also="no reply, call or meeting from Kim Park yet",
    ),
    # 10-12: deals.
    Scenario(
        "deal with two engaged decision makers",
        deal_scope((DANA, DM), (LEE, DM)),
        both_engaged,
        (GOOD,),
        Trend.STEADY,
        "last two-way contact with",
    ),
    Scenario(
        "single-threaded deal",
        deal_scope((DANA, DM), (LEE, StakeholderRole.INFLUENCER)),
        two_way_history,
        (GOOD,),
        Trend.STEADY,
        "single-threaded: Dana Ruiz is the only engaged contact",
    ),
    Scenario(
        "account with one Good and two Poor contacts",
        account(frozenset({DANA, LEE, KIM}), (LEE, PRIMARY)),
        one_good_two_poor,
        AT_RISK,
        Trend.STEADY,
        "Lee Chen (primary contact) is Poor (26) and declining",
        also="Kim Park is Poor (26) and declining",
    ),
    # 13-14: influence across channels: calls at 3, email at 9.
    Scenario(
        "calls-only relationship, calls important",
        contact_scope(DANA),
        calls_for_dana_emails_for_lee,
        (GOOD,),
        Trend.STEADY,
        "last two-way contact with Dana Ruiz",
        scoring=CALLS_FIRST,
    ),
    Scenario(
        "email-only relationship, email unimportant",
        contact_scope(LEE),
        calls_for_dana_emails_for_lee,
        (GOOD,),
        Trend.STEADY,
        "last two-way contact with Lee Chen",
        scoring=CALLS_FIRST,
    ),
    # 15-20: sales practice.
    Scenario(
        "one-way outreach",
        contact_scope(),
        one_way_outreach,
        (POOR,),
        Trend.STEADY,
        "12 emails to Dana Ruiz unanswered since 2026-09-22",
        also="no reply, call or meeting from Dana Ruiz yet",
    ),
    Scenario(
        "weekly relationship silent for three weeks",
        contact_scope(),
        three_weeks_silent,
        (GOOD, FAIR),
        Trend.DECLINING,
        "Dana Ruiz replies within 3 hours on average",
        also="no reply, call or meeting from Dana Ruiz since 2026-10-27 (22 days)",
    ),
    Scenario(
        "back after a quiet month",
        contact_scope(),
        back_after_a_quiet_month,
        (GOOD,),
        Trend.IMPROVING,
        "last two-way contact with Dana Ruiz",
    ),
    # Their new emails are engagement (Improving) and a task for us.
    Scenario(
        "a customer waiting on us",
        contact_scope(LEE),
        waiting_on_us,
        (GOOD,),
        Trend.IMPROVING,
        "last two-way contact with Lee Chen on 2026-11-15",
        also="2 emails from Lee Chen awaiting our reply since 2026-11-14",
    ),
    Scenario(
        "tasks only",
        contact_scope(),
        tasks_only,
        (POOR,),
        Trend.NOT_ENOUGH_INFO,
        "no reply, call or meeting from Dana Ruiz yet",
    ),
    Scenario(
        "monthly rhythm, three weeks silent",
        contact_scope(),
        three_weeks_silent,
        (GOOD,),
        Trend.STEADY,
        "last two-way contact with Dana Ruiz",
        scoring=ScoringSettings(frequency=Frequency.MONTHLY),
    ),
]


def _score(scenario: Scenario) -> RecordHealth:
    [health] = score_records(
        [scenario.scope], scenario.history(), scenario.scoring, scenario.now, NAMES
    )
    return health


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario(scenario: Scenario) -> None:
    health = _score(scenario)

    assert health.state in scenario.grades, (health.score, health.reasons)
    assert health.trend == scenario.trend, (health.score, health.reasons)
    assert health.reasons[0].startswith(scenario.first_reason), health.reasons
    assert scenario.also is None or scenario.also in health.reasons, health.reasons


def test_the_table_holds_at_least_15_scenarios() -> None:
    assert len(SCENARIOS) >= 15


def test_influence_orders_the_two_channels_as_the_admin_asked() -> None:
    calls, emails = SCENARIOS[12], SCENARIOS[13]
    flipped = ScoringSettings(influence={**dict.fromkeys(Kind, 6), Kind.CALL: 9, Kind.EMAIL: 3})

    calls_first = (_score(calls).score, _score(emails).score)
    email_first = (
        _score(Scenario(**{**calls.__dict__, "scoring": flipped})).score,
        _score(Scenario(**{**emails.__dict__, "scoring": flipped})).score,
    )

    assert calls_first[0] is not None and calls_first[1] is not None
    assert calls_first[0] > calls_first[1]
    assert email_first[0] is not None and email_first[1] is not None
    assert email_first[0] < email_first[1]
