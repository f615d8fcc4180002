"""Which people count for which CRM record (REFERENCE.md, "Which people count").

- contact: interactions that include the contact;
- account: any of our users with the account's primary contact or any contact of it;
- opportunity (open only): the owner and the owner's team with the customer
  contact, the stakeholders and the account's primary contact, plus anything
  regarding the opportunity;
- lead (open only): the owner with the lead itself.
Closed opportunities and qualified or disqualified leads keep the health they
had when they closed: they are not rescored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from scoring.model import RecordRef, RecordScope, RecordType
from storage.crm_records import CrmSnapshot


def display_names(crm: CrmSnapshot) -> dict[RecordRef, str]:
    names = {RecordRef(RecordType.SYSTEM_USER, u.id): u.full_name for u in crm.users}
    names.update({RecordRef(RecordType.CONTACT, c.id): c.full_name for c in crm.contacts})
    names.update({RecordRef(RecordType.LEAD, lead.id): lead.full_name for lead in crm.open_leads})
    return names


def _team_of(crm: CrmSnapshot) -> dict[str, frozenset[str]]:
    """Owner id -> the owner plus everyone sharing the owner's team."""
    members: dict[str, set[str]] = defaultdict(set)
    for user in crm.users:
        if user.team:
            members[user.team].add(user.id)
    return {
        user.id: frozenset(members[user.team]) if user.team else frozenset({user.id})
        for user in crm.users
    }


def _contact(contact_id: str) -> RecordRef:
    return RecordRef(RecordType.CONTACT, contact_id)


def build_scopes(crm: CrmSnapshot) -> Iterator[RecordScope]:
    contacts_of: dict[str, set[RecordRef]] = defaultdict(set)
    for contact in crm.contacts:
        yield RecordScope(
            _contact(contact.id),
            contact.full_name,
            frozenset({_contact(contact.id)}),
            created_at=contact.created_at,
        )
        if contact.account_id:
            contacts_of[contact.account_id].add(_contact(contact.id))
    primary_of = {a.id: a.primary_contact_id for a in crm.accounts}
    for account in crm.accounts:
        people = set(contacts_of[account.id])
        if account.primary_contact_id:
            people.add(_contact(account.primary_contact_id))
        yield RecordScope(
            RecordRef(RecordType.ACCOUNT, account.id),
            account.name,
            frozenset(people),
            created_at=account.created_at,
        )
    yield from _opportunity_scopes(crm, primary_of)
    teams = _team_of(crm)
    for lead in crm.open_leads:
        yield RecordScope(
            RecordRef(RecordType.LEAD, lead.id),
            lead.full_name,
            frozenset({RecordRef(RecordType.LEAD, lead.id)}),
            team=frozenset({lead.owner_id}) if lead.owner_id in teams else None,
            created_at=lead.created_at,
        )


def _opportunity_scopes(
    crm: CrmSnapshot, primary_of: dict[str, str | None]
) -> Iterator[RecordScope]:
    teams = _team_of(crm)
    stakeholders: dict[str, set[RecordRef]] = defaultdict(set)
    for stakeholder in crm.stakeholders:
        stakeholders[stakeholder.opportunity_id].add(_contact(stakeholder.contact_id))
    for opportunity in crm.open_opportunities:
        people = set(stakeholders[opportunity.id])
        for contact_id in (opportunity.customer_contact_id, primary_of.get(opportunity.account_id)):
            if contact_id:
                people.add(_contact(contact_id))
        yield RecordScope(
            RecordRef(RecordType.OPPORTUNITY, opportunity.id),
            opportunity.name,
            frozenset(people),
            team=teams.get(opportunity.owner_id),
            created_at=opportunity.created_at,
        )
