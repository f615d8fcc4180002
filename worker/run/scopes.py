"""Which people count for which CRM record (REFERENCE.md, "Which people count").

- contact: interactions that include the contact;
- account: any of our users with the account's primary contact or any contact of it;
- opportunity (open only): the owner and the owner's team with the customer
  contact, the stakeholders and the account's primary contact, plus anything
  regarding the opportunity;
- lead (open only): the owner with the lead itself.
Deals carry their people's roles (customer contact, stakeholders by role, the
account's primary contact) and accounts their key people (primary contact,
their open deals' key contacts): scoring rolls their health up
(scoring.rollup).
Closed opportunities and qualified or disqualified leads keep the health they
had when they closed: they are not rescored.

This is the one home of these rules. An interaction then counts for a record
when it regards the record, or has one of its people on the customer's side and
(for a deal or a lead) one of its team on ours: scoring.scope applies the
`RecordScope` built here (the pure half: scoring imports nothing of ours).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from scoring.model import RecordRef, RecordScope, RecordType, StakeholderRole
from scoring.rollup import DEAL_KEY_ROLES, stakeholder_role
from storage.crm_records import CrmSnapshot
from worker.run.gc_pause import collection_paused


def display_names(crm: CrmSnapshot) -> dict[RecordRef, str]:
    with collection_paused():  # as build_scopes
        names = {RecordRef(RecordType.SYSTEM_USER, u.id): u.full_name for u in crm.users}
        names.update({RecordRef(RecordType.CONTACT, c.id): c.full_name for c in crm.contacts})
        names.update(
            {RecordRef(RecordType.LEAD, lead.id): lead.full_name for lead in crm.open_leads}
        )
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


class _Contacts:
    """One RecordRef per contact for all the scopes (a scope holds its people's refs
    for the whole run: at 500k records a ref made per mention was ~60 MB more)."""

    def __init__(self, crm: CrmSnapshot) -> None:
        self._refs = {c.id: RecordRef(RecordType.CONTACT, c.id) for c in crm.contacts}

    def __call__(self, contact_id: str) -> RecordRef:
        ref = self._refs.get(contact_id)
        # A contact the snapshot does not hold (erased, say) still gets its ref.
        return RecordRef(RecordType.CONTACT, contact_id) if ref is None else ref


def build_scopes(crm: CrmSnapshot) -> Iterator[RecordScope]:
    """Every record's scope, in the snapshot's order."""
    # Made all at once with the cyclic collector paused: none of these objects is in
    # a cycle, and the collector walking the snapshot and the scopes as they grew cost
    # more than making them (500k records: 6.2 s against 2.3 s, display names 1.1 s
    # against 0.3 s).
    with collection_paused():
        return iter(list(_scopes(crm)))


def _scopes(crm: CrmSnapshot) -> Iterator[RecordScope]:
    contact = _Contacts(crm)
    contacts_of: dict[str, set[RecordRef]] = defaultdict(set)
    for row in crm.contacts:
        ref = contact(row.id)
        yield RecordScope(ref, row.full_name, frozenset({ref}), created_at=row.created_at)
        if row.account_id:
            contacts_of[row.account_id].add(ref)
    primary_of = {a.id: a.primary_contact_id for a in crm.accounts}
    deal_roles = _deal_roles(crm, primary_of, contact)
    key_people_of: dict[str, set[tuple[RecordRef, StakeholderRole]]] = defaultdict(set)
    for opportunity in crm.open_opportunities:
        if opportunity.account_id:
            key_people_of[opportunity.account_id].update(
                (person, role)
                for person, role in deal_roles[opportunity.id]
                if role in DEAL_KEY_ROLES
            )
    for account in crm.accounts:
        people = set(contacts_of[account.id])
        roles = key_people_of[account.id]
        if account.primary_contact_id:
            primary = contact(account.primary_contact_id)
            people.add(primary)
            roles.add((primary, StakeholderRole.PRIMARY_CONTACT))
        yield RecordScope(
            RecordRef(RecordType.ACCOUNT, account.id),
            account.name,
            frozenset(people),
            created_at=account.created_at,
            roles=tuple(sorted(role for role in roles if role[0] in people)),
        )
    yield from _opportunity_scopes(crm, deal_roles)
    teams = _team_of(crm)
    for lead in crm.open_leads:
        ref = RecordRef(RecordType.LEAD, lead.id)
        yield RecordScope(
            ref,
            lead.full_name,
            frozenset({ref}),
            team=frozenset({lead.owner_id}) if lead.owner_id in teams else None,
            created_at=lead.created_at,
        )


def _deal_roles(
    crm: CrmSnapshot, primary_of: dict[str, str | None], contact: _Contacts
) -> dict[str, list[tuple[RecordRef, StakeholderRole]]]:
    """Open deal id -> its people with their roles: the customer contact, the
    stakeholders (free-text roles mapped onto the vocabulary), the account's
    primary contact. A person may come with several roles."""
    stakeholders: dict[str, list[tuple[RecordRef, StakeholderRole]]] = defaultdict(list)
    for stakeholder in crm.stakeholders:
        role = stakeholder_role(stakeholder.role)
        stakeholders[stakeholder.opportunity_id].append((contact(stakeholder.contact_id), role))
    roles: dict[str, list[tuple[RecordRef, StakeholderRole]]] = {}
    for opportunity in crm.open_opportunities:
        people = list(stakeholders[opportunity.id])
        if opportunity.customer_contact_id:
            customer = contact(opportunity.customer_contact_id)
            people.append((customer, StakeholderRole.CUSTOMER_CONTACT))
        primary = primary_of.get(opportunity.account_id)
        if primary:
            people.append((contact(primary), StakeholderRole.PRIMARY_CONTACT))
        roles[opportunity.id] = people
    return roles


def _opportunity_scopes(
    crm: CrmSnapshot, deal_roles: dict[str, list[tuple[RecordRef, StakeholderRole]]]
) -> Iterator[RecordScope]:
    teams = _team_of(crm)
    for opportunity in crm.open_opportunities:
        roles = deal_roles[opportunity.id]
        yield RecordScope(
            RecordRef(RecordType.OPPORTUNITY, opportunity.id),
            opportunity.name,
            frozenset(person for person, _ in roles),
            team=teams.get(opportunity.owner_id),
            created_at=opportunity.created_at,
            roles=tuple(sorted(set(roles))),
        )
