"""The worker gives deals and accounts their people's roles (issue 17)."""

from __future__ import annotations

from types import SimpleNamespace as Row

from scoring import RecordRef, RecordType, StakeholderRole
from storage.crm_records import CrmSnapshot
from worker.run.scopes import build_scopes


def _contact(contact_id: str) -> RecordRef:
    return RecordRef(RecordType.CONTACT, contact_id)


def _crm() -> CrmSnapshot:
    return CrmSnapshot(
        users=[Row(id="u1", full_name="Sam Seller", team="east", disabled=False)],
        accounts=[Row(id="a1", name="Woodgrove", primary_contact_id="c3", created_at=None)],
        contacts=[
            Row(id=f"c{n}", full_name=f"Person {n}", account_id="a1", created_at=None)
            for n in (1, 2, 3, 4)
        ],
        open_leads=[],
        open_opportunities=[
            Row(
                id="o1",
                name="Treasury",
                account_id="a1",
                owner_id="u1",
                customer_contact_id="c1",
                created_at=None,
            )
        ],
        stakeholders=[
            Row(opportunity_id="o1", contact_id="c1", role="Decision maker"),
            Row(opportunity_id="o1", contact_id="c2", role="Regional Operations Manager"),
            Row(opportunity_id="o1", contact_id="c4", role="Director of Procurement"),
        ],
    )


def test_a_deal_carries_its_people_with_their_roles() -> None:
    scopes = {scope.record: scope for scope in build_scopes(_crm())}
    deal = scopes[RecordRef(RecordType.OPPORTUNITY, "o1")]

    assert deal.people == {_contact("c1"), _contact("c2"), _contact("c3"), _contact("c4")}
    assert set(deal.roles) == {
        (_contact("c1"), StakeholderRole.DECISION_MAKER),
        (_contact("c1"), StakeholderRole.CUSTOMER_CONTACT),
        (_contact("c2"), StakeholderRole.INFLUENCER),
        (_contact("c3"), StakeholderRole.PRIMARY_CONTACT),
        (_contact("c4"), StakeholderRole.ECONOMIC_BUYER),
    }


def test_an_account_carries_its_primary_contact_and_its_deals_key_contacts() -> None:
    scopes = {scope.record: scope for scope in build_scopes(_crm())}
    account = scopes[RecordRef(RecordType.ACCOUNT, "a1")]

    assert set(account.roles) == {
        (_contact("c1"), StakeholderRole.DECISION_MAKER),
        (_contact("c1"), StakeholderRole.CUSTOMER_CONTACT),
        (_contact("c3"), StakeholderRole.PRIMARY_CONTACT),
        (_contact("c4"), StakeholderRole.ECONOMIC_BUYER),
    }
