"""The demo CRM's records: accounts with their contacts, leads, opportunities.

Pure: a seeded `random.Random` and `now` in, rows (plain dicts named by
column) out. The first account is the strategic-deal scenario's and its
people are fixed; everything else is drawn from the seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from worker.demo.people import (
    COMPANIES,
    PROSPECTS,
    SELLERS,
    Company,
    NameBook,
    Person,
    address_for,
    record_id,
)

Row = dict[str, Any]

SCENARIO_PRIMARY = "Priya Raman"
SCENARIO_SECONDARY = "Daniel Okafor"
STRATEGIC_OPPORTUNITY = "Woodgrove Bank - Treasury platform modernisation"
STRATEGIC_REVENUE = 2_400_000.0
PRODUCTS = (
    "Data platform renewal",
    "Fleet telematics pilot",
    "Customer portal rollout",
    "Analytics add-on",
    "Support plan upgrade",
    "Warehouse automation",
    "Security review",
    "Field service expansion",
    "EMEA licence expansion",
    "Integration services",
)
STAKEHOLDER_ROLES = (
    "Decision maker",
    "Economic buyer",
    "Champion",
    "Technical evaluator",
    "Influencer",
)
# Open 11, won 10, lost 8: next to the strategic deal, the 29 other opportunities.
OPPORTUNITY_OUTCOMES = ("open",) * 11 + ("won",) * 10 + ("lost",) * 8
LEAD_STATUSES = ("open",) * 7 + ("qualified",) * 4 + ("disqualified",) * 4


@dataclass
class AccountPeople:
    company: Company
    owner: Person
    contacts: list[Person]  # the first is the account's primary contact


@dataclass
class OpportunityPlan:
    record_id: str
    account: AccountPeople
    owner: Person
    status: str
    people: list[Person]  # customer contact first, then the other stakeholders


@dataclass
class DemoRecords:
    sellers: list[Person]
    accounts: list[AccountPeople] = field(default_factory=list)
    leads: list[tuple[Person, str, Person]] = field(default_factory=list)  # lead, status, owner
    opportunities: list[OpportunityPlan] = field(default_factory=list)
    rows: dict[str, list[Row]] = field(default_factory=dict)  # table name -> rows


def _active(sellers: list[Person]) -> list[Person]:
    return [seller for seller, (_name, team) in zip(sellers, SELLERS, strict=True) if team]


def _created(rng: random.Random, now: datetime, low_days: int, high_days: int) -> datetime:
    return (now - timedelta(days=rng.randint(low_days, high_days))).replace(microsecond=0)


class _Addresses:
    """Corporate addresses in the usual shapes, never two people on one mailbox."""

    def __init__(self, rng: random.Random) -> None:
        self._rng, self._taken = rng, set[str]()

    def for_person(self, full_name: str, domain: str) -> str:
        for style in (self._rng.randrange(3), 0):
            address = address_for(full_name, domain, style)
            if address not in self._taken:
                self._taken.add(address)
                return address
        raise AssertionError(f"{full_name} at {domain} has no free address")  # names are unique


def _contact(rng: random.Random, addresses: _Addresses, name: str, company: Company) -> Person:
    email = addresses.for_person(name, company.domain)
    # Some people also write from the company's alias domain (the CRM's email2).
    alias = email.replace("@", "@mail.") if rng.random() < 0.15 else None
    return Person("contact", record_id("contact", email), name, email, alias)


def build_accounts(
    rng: random.Random, names: NameBook, records: DemoRecords, now: datetime
) -> None:
    addresses = _Addresses(rng)
    sellers = _active(records.sellers)
    account_rows, contact_rows = [], []
    for number, (name, domain) in enumerate(COMPANIES):
        company = Company(record_id("account", domain), name, domain)
        owner = sellers[0] if number == 0 else sellers[number % len(sellers)]
        fixed = [SCENARIO_PRIMARY, SCENARIO_SECONDARY] if number == 0 else []
        people = fixed + [names.new_name() for _ in range(rng.randint(3, 7) - len(fixed))]
        contacts = [_contact(rng, addresses, person, company) for person in people]
        records.accounts.append(AccountPeople(company, owner, contacts))
        created = _created(rng, now, 300, 700)
        account_rows.append(
            {
                "id": company.record_id,
                "name": name,
                "primary_contact_id": contacts[0].record_id,
                "owner_id": owner.record_id,
                "created_at": created,
            }
        )
        for contact in contacts:
            contact_rows.append(
                {
                    "id": contact.record_id,
                    "full_name": contact.full_name,
                    "email": contact.email,
                    "email2": contact.alt_email,
                    "account_id": company.record_id,
                    # A few people joined the account lately: too little history to judge.
                    "created_at": _created(rng, now, 10, 60)
                    if rng.random() < 0.06 and contact is not contacts[0]
                    else created,
                }
            )
    records.rows["account"], records.rows["contact"] = account_rows, contact_rows


def build_leads(rng: random.Random, names: NameBook, records: DemoRecords, now: datetime) -> None:
    addresses = _Addresses(rng)
    sellers = _active(records.sellers)
    rows = []
    for number, status in enumerate(LEAD_STATUSES):
        company_name, domain = PROSPECTS[number % len(PROSPECTS)]
        name = names.new_name()
        email = addresses.for_person(name, domain)
        lead = Person("lead", record_id("lead", email), name, email)
        owner = sellers[3 + number % 3]  # the Mid-Market team works inbound leads
        records.leads.append((lead, status, owner))
        rows.append(
            {
                "id": lead.record_id,
                "full_name": name,
                "email": email,
                "company_name": company_name,
                "status": status,
                "owner_id": owner.record_id,
                "created_at": _created(rng, now, 20, 200),
            }
        )
    records.rows["lead"] = rows


def _strategic(records: DemoRecords, now: datetime) -> tuple[OpportunityPlan, Row]:
    account = records.accounts[0]
    plan = OpportunityPlan(
        record_id("opportunity", "strategic"),
        account,
        account.owner,
        "open",
        account.contacts[:3],
    )
    row = {
        "id": plan.record_id,
        "name": STRATEGIC_OPPORTUNITY,
        "estimated_revenue": STRATEGIC_REVENUE,
        "estimated_close_date": (now + timedelta(days=40)).date(),
        "actual_close_date": None,
        "created_at": (now - timedelta(days=150)).replace(microsecond=0),
    }
    return plan, row


def _opportunity(
    rng: random.Random, number: int, status: str, records: DemoRecords, now: datetime
) -> tuple[OpportunityPlan, Row]:
    account = rng.choice(records.accounts)
    people = rng.sample(account.contacts, k=min(len(account.contacts), rng.randint(1, 3)))
    plan = OpportunityPlan(record_id("opportunity", number), account, account.owner, status, people)
    created = _created(rng, now, 20, 330)
    closed = min(created + timedelta(days=rng.randint(25, 160)), now - timedelta(days=3))
    estimated = now + timedelta(days=rng.randint(7, 150)) if status == "open" else closed
    row = {
        "id": plan.record_id,
        "name": f"{account.company.name} - {rng.choice(PRODUCTS)}",
        # Deal sizes are roughly log-normal: many mid-size, a few large.
        "estimated_revenue": float(round(rng.lognormvariate(math.log(120_000), 0.8), -3)),
        "estimated_close_date": (estimated + timedelta(days=rng.randint(-10, 10))).date(),
        "actual_close_date": None if status == "open" else closed.date(),
        "created_at": created,
    }
    return plan, row


def build_opportunities(rng: random.Random, records: DemoRecords, now: datetime) -> None:
    rows, stakeholders = [], []
    drafts = [_strategic(records, now)]
    drafts += [_opportunity(rng, n, s, records, now) for n, s in enumerate(OPPORTUNITY_OUTCOMES)]
    for plan, row in drafts:
        records.opportunities.append(plan)
        rows.append(
            {
                **row,
                "account_id": plan.account.company.record_id,
                "owner_id": plan.owner.record_id,
                "customer_contact_id": plan.people[0].record_id,
                "status": plan.status,
            }
        )
        roles = rng.sample(STAKEHOLDER_ROLES, k=len(plan.people))
        if plan.record_id == drafts[0][0].record_id:
            roles = ["Decision maker", "Champion", "Technical evaluator"]
        for person, role in zip(plan.people, roles, strict=True):
            stakeholders.append(
                {"opportunity_id": plan.record_id, "contact_id": person.record_id, "role": role}
            )
    records.rows["opportunity"], records.rows["opportunity_stakeholder"] = rows, stakeholders
