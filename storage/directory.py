"""Who is who: CRM records and system users by normalised email address.

Used to match the people on a CRM activity or an Exchange message to CRM
records. An address that matches nothing is dropped by the caller and never
stored (data minimisation). Erased subjects (storage.suppression) are left
out: their records and addresses match nothing, so CRM ingestion and Exchange
normalisation drop them like strangers and they never come back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session

from storage.crm_tables import Contact, Lead, SystemUser
from storage.suppression import Suppression, load_suppression
from storage.types import core_table

RecordKey = tuple[str, str]  # (record_type, record_id)


def normalise_address(address: str) -> str:
    """Addresses compare trimmed and case-insensitively (RFC 5321 in practice)."""
    return address.strip().lower()


@dataclass
class Directory:
    by_address: dict[str, RecordKey] = field(default_factory=dict)
    known: set[RecordKey] = field(default_factory=set)
    erased: Suppression = field(default_factory=Suppression)
    erased_records: set[RecordKey] = field(default_factory=set)  # people left out when loading

    def match_address(self, address: str | None) -> RecordKey | None:
        if not address:
            return None
        return self.by_address.get(normalise_address(address))

    def match_record(self, record_type: str | None, record_id: str | None) -> RecordKey | None:
        if not record_type or not record_id:
            return None
        key = (record_type, record_id)
        return key if key in self.known else None

    def record_erased(self, record_type: str | None, record_id: str | None) -> bool:
        """Whether a record (of any type, e.g. an activity's "regarding") was erased."""
        if not self.erased or not record_type or not record_id:
            return False
        key = (record_type, record_id)
        return key in self.erased_records or self.erased.record_erased(*key)

    def erased_address(self, *addresses: str | None) -> bool:
        """Whether any of these addresses (a directory user's mail and UPN, say) was erased."""
        return any(self.erased.address_erased(address) for address in addresses)

    def _add(self, record_type: str, record_id: str, *addresses: str | None) -> None:
        if self.erased.holds(record_type, record_id, addresses):
            # Erased: unknown by its id and by every address it carries.
            self.erased_records.add((record_type, record_id))
            return
        self.known.add((record_type, record_id))
        for address in addresses:
            # First claim wins: system users are loaded first, so a colleague's
            # address is never mistaken for a customer's, contacts beat leads, and
            # within a table the smaller id wins (load_directory reads by id).
            if address:
                self.by_address.setdefault(normalise_address(address), (record_type, record_id))


def load_directory(*, session: Session) -> Directory:
    directory = Directory(erased=load_suppression(session=session))
    users, contacts, leads = core_table(SystemUser), core_table(Contact), core_table(Lead)
    # By id within each table: when two records carry one address the first claim wins
    # (Directory._add), and that must not follow the order rows happen to lie on disk,
    # which an UPDATE changes on PostgreSQL.
    user_query = sa.select(users.c.id, users.c.email).order_by(users.c.id)
    for user_id, email in session.execute(user_query):
        directory._add("system_user", user_id, email)
    contact_query = sa.select(
        contacts.c.id, contacts.c.email, contacts.c.email2, contacts.c.email3
    ).order_by(contacts.c.id)
    for contact_id, *emails in session.execute(contact_query):
        directory._add("contact", contact_id, *emails)
    lead_query = sa.select(leads.c.id, leads.c.email).order_by(leads.c.id)
    for lead_id, email in session.execute(lead_query):
        directory._add("lead", lead_id, email)
    return directory
