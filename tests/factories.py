"""Small builders for CRM rows, written with the same bulk statements a CRM would use."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.crm_tables import (
    Account,
    Contact,
    CrmActivity,
    CrmActivityParty,
    Lead,
    Opportunity,
    OpportunityStakeholder,
    SystemUser,
)
from storage.types import core_table

# A test of what only PostgreSQL has (advisory locks, COPY, fillfactor...): the store
# fixture `database_url` made on PostgreSQL alone.
POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_ids = itertools.count(1)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def insert(engine: Engine, model: type[Any], *rows: dict[str, Any]) -> None:
    # An executemany takes its columns from the first row: every row must name the same keys.
    assert all(row.keys() == rows[0].keys() for row in rows), "rows name different columns"
    with engine.begin() as connection:
        connection.execute(sa.insert(core_table(model)), list(rows))


def user(engine: Engine, user_id: str, email: str, name: str, team: str = "east") -> None:
    insert(engine, SystemUser, {"id": user_id, "email": email, "full_name": name, "team": team})


def account(engine: Engine, account_id: str, name: str, primary: str | None = None) -> None:
    insert(engine, Account, {"id": account_id, "name": name, "primary_contact_id": primary})


def contact(
    engine: Engine, contact_id: str, email: str, name: str, account_id: str | None = None
) -> None:
    insert(
        engine,
        Contact,
        {"id": contact_id, "email": email, "full_name": name, "account_id": account_id},
    )


def lead(
    engine: Engine, lead_id: str, email: str, name: str, owner: str, status: str = "open"
) -> None:
    insert(
        engine,
        Lead,
        {"id": lead_id, "email": email, "full_name": name, "owner_id": owner, "status": status},
    )


def opportunity(
    engine: Engine,
    opportunity_id: str,
    account_id: str,
    owner: str,
    customer: str,
    stakeholders: tuple[str, ...] = (),
    status: str = "open",
) -> None:
    insert(
        engine,
        Opportunity,
        {
            "id": opportunity_id,
            "name": f"Deal {opportunity_id}",
            "account_id": account_id,
            "owner_id": owner,
            "customer_contact_id": customer,
            "status": status,
            "estimated_revenue": 100_000.0,
        },
    )
    if stakeholders:
        insert(
            engine,
            OpportunityStakeholder,
            *({"opportunity_id": opportunity_id, "contact_id": c} for c in stakeholders),
        )


def email(
    engine: Engine,
    *,
    sender: str,
    to: list[str],
    at: datetime,
    owner: str | None = None,
    activity_id: str | None = None,
    conversation: str | None = None,
    direction: str | None = None,
    status: str = "completed",
    cc: list[str] | None = None,
    internet_message_id: str | None = None,
    regarding: tuple[str, str] | None = None,
) -> str:
    """An email activity; parties given by address (a CRM 'from'/'to' list)."""
    activity_id = activity_id or f"act-{next(_ids)}"
    insert(
        engine,
        CrmActivity,
        {
            "id": activity_id,
            "kind": "email",
            "owner_id": owner,
            "direction": direction,
            "status": status,
            "start_at": at,
            "end_at": at,
            "conversation_id": conversation,
            "internet_message_id": internet_message_id,
            "regarding_type": regarding[0] if regarding else None,
            "regarding_id": regarding[1] if regarding else None,
        },
    )
    parties = [{"activity_id": activity_id, "role": "from", "address": sender}]
    parties += [{"activity_id": activity_id, "role": "to", "address": a} for a in to]
    parties += [{"activity_id": activity_id, "role": "cc", "address": a} for a in cc or []]
    insert(engine, CrmActivityParty, *parties)
    return activity_id


def meeting(
    engine: Engine,
    *,
    organizer: str,
    attendees: dict[str, str],
    start: datetime,
    minutes: int = 30,
    status: str = "completed",
    activity_id: str | None = None,
) -> str:
    """An appointment; `attendees` maps address -> response."""
    activity_id = activity_id or f"act-{next(_ids)}"
    insert(
        engine,
        CrmActivity,
        {
            "id": activity_id,
            "kind": "appointment",
            "status": status,
            "start_at": start,
            "end_at": start + timedelta(minutes=minutes),
        },
    )
    parties = [
        {"activity_id": activity_id, "role": "organizer", "address": organizer, "response": None}
    ]
    parties += [
        {"activity_id": activity_id, "role": "required", "address": a, "response": r}
        for a, r in attendees.items()
    ]
    insert(engine, CrmActivityParty, *parties)
    return activity_id


def call(
    engine: Engine,
    *,
    owner: str,
    contact_id: str,
    at: datetime,
    minutes: int = 15,
    direction: str = "outgoing",
) -> str:
    """A phone call logged with the customer as a record reference only."""
    activity_id = f"act-{next(_ids)}"
    insert(
        engine,
        CrmActivity,
        {
            "id": activity_id,
            "kind": "phone_call",
            "owner_id": owner,
            "direction": direction,
            "status": "completed",
            "start_at": at,
            "end_at": at + timedelta(minutes=minutes),
        },
    )
    insert(
        engine,
        CrmActivityParty,
        {
            "activity_id": activity_id,
            "role": "to" if direction == "outgoing" else "from",
            "record_type": "contact",
            "record_id": contact_id,
        },
    )
    return activity_id


def adele_and_alex(engine: Engine) -> None:
    """A colleague and a customer, named as the graph_sync tests' records name them."""
    user(engine, "u-adele", "adele@contoso.com", "Adele Vance")
    contact(engine, "c-alex", "alex@fabrikam.com", "Alex Wilber")
