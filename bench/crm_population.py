"""A synthetic CRM for the benchmark: records, then heavy-tailed activity in batches.

Records go in through SQLAlchemy Core; activities are generated in batches
of plain tuples so a million of them never sit in memory at once, and so
the loader can COPY them (PostgreSQL) or executemany them (SQLite) raw.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.crm_tables import Account, Contact, Opportunity, OpportunityStakeholder, SystemUser
from storage.engine import session_scope
from storage.interaction_store import chunks
from storage.types import core_table

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
YEAR_SECONDS = 365 * 86_400
KINDS = ("email", "appointment", "phone_call", "task")
KIND_WEIGHTS = (0.6, 0.15, 0.15, 0.1)
RESPONSES = ("accepted",) * 7 + ("tentative", "declined", "none")
PARETO_SHAPE, WEIGHT_CAP = 1.16, 2_000.0  # the 80/20 shape, capped so one contact is not all
ACTIVITY_COLUMNS = (
    "id, kind, owner_id, direction, status, start_at, end_at, "
    "regarding_type, regarding_id, conversation_id, opens, clicks"
)
PARTY_COLUMNS = "activity_id, role, address, record_type, record_id, response"


@dataclass
class Population:
    records: int
    seller_emails: list[str]
    contact_emails: list[str]
    seller_of: list[int]  # contact index -> seller index
    deal_of: list[str | None]  # contact index -> an open opportunity of its account
    cum_weights: list[float]  # Pareto activity weights, cumulated for random.choices
    quiet_for: list[float]  # seconds since a relationship's last activity (0: active)
    rng: random.Random


def _insert(engine: Engine, model: type[Any], rows: list[dict[str, Any]]) -> None:
    with session_scope(engine) as session:
        for batch in chunks(rows, 10_000):
            session.execute(sa.insert(core_table(model)), batch)


def seed_records(engine: Engine, records: int, *, seed: int) -> Population:
    """Sellers, accounts, contacts and deals: ~10 contacts per account, 1 deal per 5 accounts."""
    rng = random.Random(seed)
    accounts, deals = max(1, records // 10), max(1, records // 50)
    contacts, sellers = records - accounts - deals, max(8, records // 250)
    created = NOW - timedelta(days=400)
    seller_emails = [f"seller{i}@northwindtraders.com" for i in range(sellers)]
    _insert(
        engine,
        SystemUser,
        [
            {"id": f"u{i}", "email": email, "full_name": f"Seller {i}", "team": f"Team {i // 8}"}
            for i, email in enumerate(seller_emails)
        ],
    )
    _insert(
        engine,
        Account,
        [
            {
                "id": f"a{a}",
                "name": f"Account {a}",
                "primary_contact_id": f"c{a}",
                "owner_id": f"u{a % sellers}",
                "created_at": created,
            }
            for a in range(accounts)
        ],
    )
    contact_emails = [f"contact{c}@account{c % accounts}.example.com" for c in range(contacts)]
    _insert(
        engine,
        Contact,
        [
            {
                "id": f"c{c}",
                "full_name": f"Contact {c}",
                "email": email,
                "account_id": f"a{c % accounts}",
                "created_at": created,
            }
            for c, email in enumerate(contact_emails)
        ],
    )
    deal_of_account = _seed_deals(engine, rng, deals, accounts, sellers, created)
    return Population(
        records=records,
        seller_emails=seller_emails,
        contact_emails=contact_emails,
        seller_of=[(c % accounts) % sellers for c in range(contacts)],
        deal_of=[deal_of_account.get(c % accounts) for c in range(contacts)],
        cum_weights=_cumulated(
            min(rng.paretovariate(PARETO_SHAPE), WEIGHT_CAP) for _ in range(contacts)
        ),
        quiet_for=[
            rng.uniform(60, 300) * 86_400 if rng.random() < 0.3 else 0.0 for _ in range(contacts)
        ],
        rng=rng,
    )


def _seed_deals(
    engine: Engine, rng: random.Random, deals: int, accounts: int, sellers: int, created: datetime
) -> dict[int, str]:
    rows, stakeholders, open_deal_of = [], [], {}
    for d in range(deals):
        account = rng.randrange(accounts)
        status = "open" if rng.random() < 0.8 else rng.choice(("won", "lost"))
        rows.append(
            {
                "id": f"o{d}",
                "name": f"Deal {d}",
                "account_id": f"a{account}",
                "owner_id": f"u{account % sellers}",
                "customer_contact_id": f"c{account}",
                "status": status,
                "estimated_revenue": float(rng.randrange(10, 900) * 1000),
                "created_at": created,
            }
        )
        stakeholders.append(
            {"opportunity_id": f"o{d}", "contact_id": f"c{account}", "role": "Decision maker"}
        )
        if status == "open":
            open_deal_of[account] = f"o{d}"
    _insert(engine, Opportunity, rows)
    _insert(engine, OpportunityStakeholder, stakeholders)
    return open_deal_of


def _cumulated(weights: Any) -> list[float]:
    total, cumulated = 0.0, []
    for weight in weights:
        total += weight
        cumulated.append(total)
    return cumulated


@dataclass
class ActivityBatch:
    postgres: bool
    activities: list[tuple[Any, ...]] = field(default_factory=list)
    parties: list[tuple[Any, ...]] = field(default_factory=list)
    activity_columns: str = ACTIVITY_COLUMNS
    party_columns: str = PARTY_COLUMNS

    def activity_lines(self) -> list[str]:
        return [_copy_line(row) for row in self.activities]

    def party_lines(self) -> list[str]:
        return [_copy_line(row) for row in self.parties]

    def activity_insert(self) -> str:
        marks = ", ".join("?" * len(ACTIVITY_COLUMNS.split(", ")))
        return f"INSERT INTO crm_activity ({ACTIVITY_COLUMNS}) VALUES ({marks})"

    def party_insert(self) -> str:
        return f"INSERT INTO crm_activity_party ({PARTY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"


def _copy_line(row: tuple[Any, ...]) -> str:
    return "\t".join("\\N" if value is None else str(value) for value in row) + "\n"


def _stamp(epoch: float, postgres: bool) -> str:
    # The stored forms: timestamptz text for COPY, SQLAlchemy's naive-UTC text for SQLite.
    text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))
    return f"{text}+00" if postgres else f"{text}.000000"


def _person(rng: random.Random, record_type: str, record_id: str, email: str) -> tuple[Any, ...]:
    """(address, record_type, record_id): half by reference, half by (sloppily typed) address."""
    if rng.random() < 0.5:
        return None, record_type, record_id
    return (email.upper() if rng.random() < 0.1 else email), None, None


def _regarding(pop: Population, contact: int, kind: str) -> tuple[str | None, str | None]:
    deal = pop.deal_of[contact] if pop.rng.random() < 0.1 else None
    if deal:
        return "opportunity", deal
    # A CRM task has no parties, only the record it is about.
    return ("contact", f"c{contact}") if kind == "task" else (None, None)


def _activity(pop: Population, batch: ActivityBatch, number: int, contact: int, kind: str) -> None:
    rng, now = pop.rng, NOW.timestamp()
    activity_id, seller = f"act{number}", pop.seller_of[contact]
    quiet = pop.quiet_for[contact]
    started = now - quiet - rng.random() * (YEAR_SECONDS - quiet)
    status, roll = "completed", rng.random()
    if roll < 0.01:
        status = "cancelled"
    elif roll < 0.03 and kind in ("appointment", "task"):
        status, started = "open", now + rng.random() * 14 * 86_400
    minutes = {"appointment": rng.choice((30, 45, 60)), "phone_call": rng.randint(3, 30)}
    ended = started + minutes.get(kind, 0) * 60
    outgoing = rng.random() < 0.55
    direction = (
        None if kind in ("appointment", "task") else ("outgoing" if outgoing else "incoming")
    )
    regarding = _regarding(pop, contact, kind)
    conversation = (
        f"cv{contact}-{int((now - started) // (14 * 86_400))}" if kind == "email" else None
    )
    batch.activities.append(
        (
            activity_id,
            kind,
            f"u{seller}",
            direction,
            status,
            _stamp(started, batch.postgres),
            _stamp(ended, batch.postgres) if kind != "email" else None,
            *regarding,
            conversation,
            rng.randint(0, 3) if kind == "email" and outgoing else 0,
            0,
        )
    )
    customer = _person(rng, "contact", f"c{contact}", pop.contact_emails[contact])
    colleague = _person(rng, "system_user", f"u{seller}", pop.seller_emails[seller])
    if kind == "email":
        sender, recipient = (colleague, customer) if outgoing else (customer, colleague)
        batch.parties.append((activity_id, "from", *sender, None))
        batch.parties.append((activity_id, "to", *recipient, None))
    elif kind == "appointment":
        batch.parties.append((activity_id, "organizer", *colleague, "accepted"))
        batch.parties.append((activity_id, "required", *customer, rng.choice(RESPONSES)))
    elif kind == "phone_call":
        batch.parties.append((activity_id, "to" if outgoing else "from", *customer, None))


def activity_batches(
    pop: Population, total: int, *, postgres: bool, size: int = 50_000
) -> Iterator[ActivityBatch]:
    contacts = range(len(pop.contact_emails))
    for first in range(0, total, size):
        count = min(size, total - first)
        batch = ActivityBatch(postgres)
        picks = pop.rng.choices(contacts, cum_weights=pop.cum_weights, k=count)
        kinds = pop.rng.choices(KINDS, weights=KIND_WEIGHTS, k=count)
        for offset, (contact, kind) in enumerate(zip(picks, kinds, strict=True)):
            _activity(pop, batch, first + offset, contact, kind)
        yield batch
