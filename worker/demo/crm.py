"""A realistic demo CRM: sellers, accounts, contacts, leads, deals and a year of activity.

`build_demo_crm` is pure (seed and `now` in, rows out, byte-for-byte the same
every time); `seed_demo_crm` writes those rows into an empty, migrated store
with bulk Core inserts. The story to look for is in `worker/demo/scenario.py`:
a strategic deal whose primary contact went silent five weeks ago while a
secondary contact stays engaged.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.crm_contract import CRM_TABLES
from storage.engine import session_scope
from worker.demo.activity import ActivityLog
from worker.demo.people import SELLERS, NameBook, Person, seller_rows, sellers
from worker.demo.records import (
    SCENARIO_PRIMARY,
    SCENARIO_SECONDARY,
    AccountPeople,
    DemoRecords,
    build_accounts,
    build_leads,
    build_opportunities,
)
from worker.demo.relationships import (
    PATTERN_WEIGHTS,
    PATTERNS,
    Circle,
    internal_chatter,
    lead_outreach,
    play_pattern,
)
from worker.demo.scenario import strategic_deal


class StoreNotEmptyError(RuntimeError):
    """The demo is only seeded into an empty store, never mixed with real CRM data."""


@dataclass(frozen=True)
class DemoFacts:
    """The scenario's records (to point a demo at) and how much was seeded."""

    account_id: str
    account_name: str
    strategic_opportunity_id: str
    strategic_opportunity_name: str
    primary_contact_id: str
    primary_contact_name: str
    secondary_contact_id: str
    secondary_contact_name: str
    seller_id: str
    unknown_addresses: tuple[str, ...]  # in activities, in no CRM record: never ingested
    system_users: int
    accounts: int
    contacts: int
    leads: int
    opportunities: int
    activities: int
    activity_parties: int


@dataclass(frozen=True)
class DemoCrm:
    rows: dict[str, list[dict[str, Any]]]  # table name -> rows, in CRM_TABLES order
    facts: DemoFacts


def _teammates(people: list[Person]) -> dict[str, list[Person]]:
    """Seller id -> the other active sellers of the same team."""
    team_of = {p.record_id: team for p, (_name, team) in zip(people, SELLERS, strict=True)}
    return {
        seller.record_id: [
            other
            for other in people
            if other != seller
            and team_of[seller.record_id] is not None
            and team_of[other.record_id] == team_of[seller.record_id]
        ]
        for seller in people
    }


def _play_account(
    log: ActivityLog,
    account: AccountPeople,
    records: DemoRecords,
    teammates: dict[str, list[Person]],
) -> None:
    rng = log.rng
    deal_of = {
        person.record_id: ("opportunity", plan.record_id)
        for plan in records.opportunities
        if plan.status == "open" and plan.account is account
        for person in plan.people
    }
    former_colleague = records.sellers[-1]  # disabled: the relationships they ran went quiet
    is_scenario = account is records.accounts[0]
    for contact in account.contacts[2:] if is_scenario else account.contacts:
        pattern = rng.choices(PATTERNS, weights=PATTERN_WEIGHTS)[0]
        seller = account.owner
        colleagues = teammates[seller.record_id]
        if pattern == "gone_quiet" and rng.random() < 0.3:
            seller = former_colleague
        elif colleagues and rng.random() < 0.3:
            seller = rng.choice(colleagues)
        circle = Circle(
            colleagues=tuple(p for p in colleagues if p != seller),
            # The scenario's two contacts stay out of their colleagues' threads: their
            # own histories are the story and must not be blurred by a stray cc.
            peers=tuple(p for p in account.contacts[2 if is_scenario else 0 :] if p != contact),
            regarding=deal_of.get(contact.record_id),
        )
        play_pattern(log, pattern, seller, contact, circle)


def _facts(records: DemoRecords, log: ActivityLog) -> DemoFacts:
    scenario = records.accounts[0]
    deal = records.rows["opportunity"][0]
    primary, secondary = scenario.contacts[0], scenario.contacts[1]
    assert (primary.full_name, secondary.full_name) == (SCENARIO_PRIMARY, SCENARIO_SECONDARY)
    return DemoFacts(
        account_id=scenario.company.record_id,
        account_name=scenario.company.name,
        strategic_opportunity_id=deal["id"],
        strategic_opportunity_name=deal["name"],
        primary_contact_id=primary.record_id,
        primary_contact_name=primary.full_name,
        secondary_contact_id=secondary.record_id,
        secondary_contact_name=secondary.full_name,
        seller_id=scenario.owner.record_id,
        unknown_addresses=tuple(sorted(log.strangers)),
        system_users=len(records.sellers),
        accounts=len(records.accounts),
        contacts=len(records.rows["contact"]),
        leads=len(records.leads),
        opportunities=len(records.opportunities),
        activities=len(log.activities),
        activity_parties=len(log.parties),
    )


def build_demo_crm(*, now: datetime, seed: int = 7) -> DemoCrm:
    """Every row of the demo CRM as of `now` (timezone-aware); pure and deterministic."""
    if now.tzinfo is None:
        raise ValueError(f"now={now.isoformat()} is naive; pass a timezone-aware datetime")
    now = now.astimezone(UTC)
    rng = random.Random(seed)
    people = sellers()
    records = DemoRecords(people, rows={"system_user": seller_rows(people)})
    names = NameBook(
        rng, {name for name, _team in SELLERS} | {SCENARIO_PRIMARY, SCENARIO_SECONDARY}
    )
    build_accounts(rng, names, records, now)
    build_leads(rng, names, records, now)
    build_opportunities(rng, records, now)
    log = ActivityLog(rng, now)
    teammates = _teammates(people)
    for account in records.accounts:
        _play_account(log, account, records, teammates)
    for lead, status, owner in records.leads:
        lead_outreach(log, lead, status, owner)
    internal_chatter(log, [p for p in people if teammates.get(p.record_id)])
    scenario = records.accounts[0]
    strategic_deal(
        log,
        seller=scenario.owner,
        colleague=teammates[scenario.owner.record_id][0],
        primary=scenario.contacts[0],
        secondary=scenario.contacts[1],
        opportunity_id=records.opportunities[0].record_id,
    )
    rows = {**records.rows, "crm_activity": log.activities, "crm_activity_party": log.parties}
    return DemoCrm({name: rows[name] for name in CRM_TABLES}, _facts(records, log))


def _require_empty(engine: Engine) -> None:
    with engine.connect() as connection:
        for name in ("system_user", "contact", "crm_activity"):
            table = CRM_TABLES[name]
            held = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            if held:
                raise StoreNotEmptyError(
                    f"the store already holds {held} {name} rows; seed the demo into an "
                    "empty store (e.g. a new SQLite file)"
                )


def seed_demo_crm(engine: Engine, *, now: datetime, seed: int = 7) -> DemoFacts:
    """Fill an empty, migrated store with the demo CRM in one transaction."""
    crm = build_demo_crm(now=now, seed=seed)
    _require_empty(engine)
    with session_scope(engine) as session:
        for name, rows in crm.rows.items():
            if rows:
                session.execute(sa.insert(CRM_TABLES[name]), rows)
    return crm.facts
