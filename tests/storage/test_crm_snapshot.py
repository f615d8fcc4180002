"""The CRM snapshot a run scores from: in key order, whatever order rows sit in on disk."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.crm_records import CONTACTS, load_crm_snapshot
from storage.engine import session_scope
from tests import factories as f


def _book_out_of_order(engine: Engine) -> None:
    f.user(engine, "u2", "ben@ours.example", "Ben Seller")
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    for account in ("a2", "a1"):
        f.account(engine, account, f"Account {account}")
    for contact in ("c3", "c1", "c2"):
        f.contact(engine, contact, f"{contact}@customer.example", f"Person {contact}", "a1")
    for lead in ("l2", "l1"):
        f.lead(engine, lead, f"{lead}@prospect.example", f"Lead {lead}", "u1")
    f.opportunity(engine, "o2", "a1", "u1", "c1", stakeholders=("c3", "c2"))
    f.opportunity(engine, "o1", "a1", "u2", "c2", stakeholders=("c2", "c1"))
    # An update writes a new row version: PostgreSQL now keeps c1 after the others.
    with engine.begin() as connection:
        connection.execute(
            sa.update(CONTACTS).where(CONTACTS.c.id == "c1").values(full_name="Person One")
        )


def test_every_list_of_the_snapshot_is_in_key_order(engine: Engine) -> None:
    _book_out_of_order(engine)

    with session_scope(engine) as session:
        crm = load_crm_snapshot(session=session)

    assert [u.id for u in crm.users] == ["u1", "u2"]
    assert [a.id for a in crm.accounts] == ["a1", "a2"]
    assert [(c.id, c.full_name) for c in crm.contacts] == [
        ("c1", "Person One"),
        ("c2", "Person c2"),
        ("c3", "Person c3"),
    ]
    assert [lead.id for lead in crm.open_leads] == ["l1", "l2"]
    assert [o.id for o in crm.open_opportunities] == ["o1", "o2"]
    assert [(s.opportunity_id, s.contact_id) for s in crm.stakeholders] == [
        ("o1", "c1"),
        ("o1", "c2"),
        ("o2", "c2"),
        ("o2", "c3"),
    ]


def test_a_contacts_account_id_is_its_accounts_own_string(engine: Engine) -> None:
    """The snapshot is held for a whole run: a contact's account id is not a string
    of its own (500k records: about 25 MiB)."""
    _book_out_of_order(engine)

    with session_scope(engine) as session:
        crm = load_crm_snapshot(session=session)

    account = next(a for a in crm.accounts if a.id == "a1")
    assert all(contact.account_id is account.id for contact in crm.contacts)
