"""Which record an address matches does not depend on the order rows lie on disk
(SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.crm_tables import Contact, Lead
from storage.directory import load_directory
from storage.types import core_table

SHARED = "front-desk@fabrikam.com"


def test_two_contacts_sharing_an_address_match_the_first_by_id_after_either_is_updated(
    engine: Engine,
) -> None:
    contacts, leads = core_table(Contact), core_table(Lead)
    with Session(engine) as session, session.begin():
        session.execute(
            sa.insert(contacts),
            [
                {"id": "c-1", "full_name": "Ann", "email": None, "email2": SHARED},
                {"id": "c-2", "full_name": "Bob", "email": SHARED.upper(), "email2": None},
            ],
        )
        session.execute(
            sa.insert(leads),
            [
                {"id": "l-1", "full_name": "Cai", "email": "cai@fabrikam.com"},
                {"id": "l-2", "full_name": "Dee", "email": "CAI@fabrikam.com"},
            ],
        )
    with Session(engine) as session:
        before = load_directory(session=session)
    # An update (a rename, the health written back) moves a PostgreSQL row to the end
    # of its table, so a read without an order would now meet c-2 and l-2 first.
    with Session(engine) as session, session.begin():
        session.execute(sa.update(contacts).where(contacts.c.id == "c-1").values(full_name="A"))
        session.execute(sa.update(leads).where(leads.c.id == "l-1").values(full_name="C"))
    with Session(engine) as session:
        after = load_directory(session=session)

    assert before.match_address(SHARED) == after.match_address(SHARED) == ("contact", "c-1")
    assert after.match_address("cai@fabrikam.com") == ("lead", "l-1")
