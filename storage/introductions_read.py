"""Reads behind introduction requests at account level (insights/introductions.py).

Two queries per account, never one per contact: the stored introducer rows of
all its contacts (with each colleague's name and address and the contact's
name), and its contacts' stored KPIs for the customer's "most contacted".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.crm_tables import Account, Contact, SystemUser
from storage.rapport_tables import Introducer, RelationshipKpi
from storage.types import core_table

ACCOUNT = core_table(Account)
CONTACT = core_table(Contact)
USER = core_table(SystemUser)
INTRODUCER = core_table(Introducer)
KPI = core_table(RelationshipKpi)


def account_name(*, session: Session, account_id: str) -> str | None:
    found = session.execute(sa.select(ACCOUNT.c.name).where(ACCOUNT.c.id == account_id)).first()
    return None if found is None else str(found.name)


def person_company(*, session: Session, record_type: str, row: Mapping[str, Any]) -> str | None:
    """What an introduction's {company} says of a person: a lead's company name, a
    contact's account's name (None when it has none)."""
    if record_type == "lead":
        return row.get("company_name")
    account_id = row.get("account_id")
    return None if account_id is None else account_name(session=session, account_id=account_id)


def account_introducer_rows(*, session: Session, account_id: str) -> list[dict[str, Any]]:
    """Every stored introducer of the account's contacts, with names."""
    query = (
        sa.select(
            INTRODUCER.c.record_id,
            CONTACT.c.full_name.label("person_name"),
            INTRODUCER.c.system_user_id,
            USER.c.full_name,
            USER.c.email,
            INTRODUCER.c.strength,
            INTRODUCER.c.strength_label,
            INTRODUCER.c.last_interaction_at,
        )
        .join(CONTACT, CONTACT.c.id == INTRODUCER.c.record_id)
        .join(USER, USER.c.id == INTRODUCER.c.system_user_id)
        .where(INTRODUCER.c.record_type == "contact", CONTACT.c.account_id == account_id)
        .order_by(INTRODUCER.c.record_id, INTRODUCER.c.rank)
    )
    return [row._asdict() for row in session.execute(query)]


def account_contact_kpis(*, session: Session, account_id: str) -> list[dict[str, Any]]:
    """The stored KPIs of the account's contacts (those scored), with names."""
    query = (
        sa.select(
            CONTACT.c.id.label("record_id"),
            CONTACT.c.full_name.label("name"),
            KPI.c.emails_sent,
            KPI.c.emails_received,
            KPI.c.meetings_received,
            KPI.c.phone_calls_received,
            KPI.c.last_activity_at,
        )
        .join(KPI, sa.and_(KPI.c.record_type == "contact", KPI.c.record_id == CONTACT.c.id))
        .where(CONTACT.c.account_id == account_id)
    )
    return [row._asdict() for row in session.execute(query)]


def user_email(*, session: Session, system_user_id: str) -> str:
    found = session.execute(sa.select(USER.c.email).where(USER.c.id == system_user_id)).first()
    return "" if found is None else str(found.email)
