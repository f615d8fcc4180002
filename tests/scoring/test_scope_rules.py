"""Which interactions count for which record (REFERENCE.md, "Which people count")."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from scoring import (
    HealthState,
    Interaction,
    RecordHealth,
    RecordRef,
    RecordScope,
    RecordType,
    Response,
    ScoringRun,
    ScoringSettings,
    Trend,
    belongs_to,
    score_records,
)
from tests.scoring.factories import (
    ALEX,
    CONTOSO,
    DANA,
    DEAL,
    KIM,
    LEAD_ROBIN,
    LEE,
    NAMES,
    NOW,
    SAM,
    contact_scope,
    days_ago,
    email,
    meeting,
    property_settings,
    task,
)

CONTOSO_SCOPE = RecordScope(CONTOSO, "Contoso", frozenset({DANA, LEE}))
DEAL_SCOPE = RecordScope(DEAL, "Contoso renewal", frozenset({DANA}), team=frozenset({SAM}))
LEAD_SCOPE = RecordScope(LEAD_ROBIN, "Robin Vale", frozenset({LEAD_ROBIN, KIM}))


def score_all(scopes: list[RecordScope], interactions: list[Interaction]) -> list[RecordHealth]:
    return list(score_records(scopes, interactions, ScoringSettings(), NOW, NAMES))


def emails_counted(health: RecordHealth) -> int:
    return health.kpis.emails_sent + health.kpis.emails_received


def test_contact_counts_only_interactions_that_include_that_contact() -> None:
    interactions = [
        email(days_ago(3), contacts=(DANA,)),
        email(days_ago(2), contacts=(LEE,)),
        email(days_ago(1), contacts=(KIM, DANA)),
    ]

    dana, lee, kim = score_all(
        [contact_scope(DANA), contact_scope(LEE), contact_scope(KIM)], interactions
    )

    assert (emails_counted(dana), emails_counted(lee), emails_counted(kim)) == (2, 1, 1)


def test_account_counts_every_contact_of_the_account_with_any_of_our_users() -> None:
    interactions = [
        email(days_ago(3), contacts=(DANA,), users=(SAM,)),
        email(days_ago(2), contacts=(LEE,), users=(ALEX,)),
        email(days_ago(1), contacts=(KIM,)),  # another account's contact
    ]

    [account] = score_all([CONTOSO_SCOPE], interactions)

    assert emails_counted(account) == 2


def test_email_to_two_contacts_of_one_account_counts_once_for_the_account() -> None:
    [account] = score_all([CONTOSO_SCOPE], [email(days_ago(1), contacts=(DANA, LEE))])

    assert emails_counted(account) == 1


def test_opportunity_counts_its_team_with_its_people_and_anything_regarding_it() -> None:
    interactions = [
        email(days_ago(4), contacts=(DANA,), users=(SAM,)),  # team member: counts
        email(days_ago(3), contacts=(DANA,), users=(ALEX,)),  # outside the team: not
        email(days_ago(2), contacts=(KIM,), users=(ALEX,), regarding=DEAL),  # regarding: counts
        email(days_ago(1), contacts=(LEE,), users=(SAM,)),  # not a stakeholder: not
    ]

    [deal] = score_all([DEAL_SCOPE], interactions)

    assert emails_counted(deal) == 2


def test_interaction_reached_by_person_and_by_regarding_counts_once() -> None:
    interactions = [
        email(days_ago(2), contacts=(DANA,), users=(SAM,), regarding=DEAL),
        meeting(days_ago(1), attendees={DANA: Response.ACCEPTED}, regarding=DEAL),
    ]

    [deal] = score_all([DEAL_SCOPE], interactions)

    assert emails_counted(deal) == 1
    assert deal.kpis.meetings_sent == 1


def test_lead_counts_its_own_address_and_its_stakeholders() -> None:
    interactions = [
        email(days_ago(3), contacts=(LEAD_ROBIN,)),
        email(days_ago(2), contacts=(KIM,), inbound=True),
        email(days_ago(1), contacts=(DANA,)),
    ]

    [lead] = score_all([LEAD_SCOPE], interactions)

    assert (lead.kpis.emails_sent, lead.kpis.emails_received) == (1, 1)


def test_a_record_with_nothing_in_scope_has_empty_kpis_and_not_enough_info() -> None:
    [account] = score_all([CONTOSO_SCOPE], [email(days_ago(1), contacts=(KIM,))])

    assert emails_counted(account) == 0
    assert account.state == HealthState.NOT_ENOUGH_INFO
    assert account.score is None


def test_results_come_in_the_order_of_the_scopes() -> None:
    scopes = [LEAD_SCOPE, contact_scope(DANA), CONTOSO_SCOPE, DEAL_SCOPE]

    results = score_all(scopes, [email(days_ago(1))])

    assert [health.record for health in results] == [scope.record for scope in scopes]


def test_a_broken_interaction_fails_only_the_records_that_reach_it() -> None:
    naive = email(datetime(2026, 11, 1, 9, 0), contacts=(LEE,))  # no time zone
    interactions = [naive, *[email(days_ago(d), contacts=(DANA,)) for d in (1, 2, 3)]]

    dana, lee, account = score_all(
        [contact_scope(DANA), contact_scope(LEE), CONTOSO_SCOPE], interactions
    )

    assert dana.state == HealthState.POOR
    for failed in (lee, account):
        assert failed.score is None
        assert failed.state == HealthState.SOMETHING_WENT_WRONG
        assert failed.trend == Trend.SOMETHING_WENT_WRONG
        assert failed.kpis.emails_sent == 0
        assert failed.reasons[0].startswith("scoring failed: ValueError")
        assert "timezone-aware" in failed.reasons[0]


def test_an_unknown_activity_kind_fails_its_record_with_the_error_type() -> None:
    odd = email(days_ago(1), contacts=(LEE,))._replace(kind="fax")  # type: ignore[arg-type]  # on purpose

    [lee] = score_all([contact_scope(LEE)], [odd])

    assert lee.state == HealthState.SOMETHING_WENT_WRONG
    # No profile for the kind (KeyError): the reason names the error's type.
    assert lee.reasons[0].startswith("scoring failed: KeyError")


PEOPLE = [DANA, LEE, KIM, LEAD_ROBIN]
RECORDS = [*PEOPLE, CONTOSO, DEAL]


@st.composite
def scoped_interactions(draw: st.DrawFn) -> Interaction:
    contacts = draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=3))
    users = draw(st.lists(st.sampled_from([SAM, ALEX]), min_size=1, max_size=2))
    regarding = draw(st.none() | st.sampled_from(RECORDS))
    when = days_ago(draw(st.integers(min_value=0, max_value=60)))
    if draw(st.booleans()):
        return email(when, contacts=contacts, users=users, regarding=regarding)
    return task(when, contact=contacts[0], regarding=regarding)


@st.composite
def scopes(draw: st.DrawFn) -> RecordScope:
    record = draw(st.sampled_from(RECORDS))
    people = draw(st.frozensets(st.sampled_from(PEOPLE), max_size=3))
    team = draw(st.none() | st.frozensets(st.sampled_from([SAM, ALEX]), min_size=1))
    return RecordScope(record, "record", people, team)


@property_settings
@given(scope=scopes(), interactions=st.lists(scoped_interactions(), max_size=12))
def test_the_index_counts_exactly_what_the_scope_rule_says(
    scope: RecordScope, interactions: list[Interaction]
) -> None:
    [health] = score_all([scope], interactions)

    in_scope = [i for i in interactions if belongs_to(scope, i) and i.kind == "email"]
    assert emails_counted(health) == len(in_scope)


def test_system_user_refs_are_never_customers() -> None:
    ref = RecordRef(RecordType.SYSTEM_USER, SAM)
    scope = RecordScope(ref, "Sam", frozenset({ref}))

    [health] = score_all([scope], [email(days_ago(1))])

    assert emails_counted(health) == 0


def test_a_run_scored_in_parts_gives_what_one_call_gives() -> None:
    interactions = [
        *[email(days_ago(d), contacts=(DANA,)) for d in (1, 4, 9)],
        *[email(days_ago(d), contacts=(LEE,), inbound=True) for d in (2, 6)],
        meeting(days_ago(3), attendees={DANA: Response.ACCEPTED, LEE: Response.DECLINED}),
    ]
    scopes = [contact_scope(DANA), contact_scope(LEE), CONTOSO_SCOPE, DEAL_SCOPE]
    run = ScoringRun(interactions, ScoringSettings(), NOW, NAMES)

    in_parts = [*run.score(scopes[:2]), *run.score(scopes[2:])]

    assert in_parts == score_all(scopes, interactions)
