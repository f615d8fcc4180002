"""A small CRM with scored relationships, for compliance tests.

Dana Ruiz is the usual subject: some interactions involve only her, some are
shared with Lee Park, one is logged regarding her, and other records' reasons
name her. Ids and addresses are distinctive so that a substring scan for
them cannot hit anything else (hex tokens, other people's ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine

from storage.audit import record_event
from storage.crm_tables import Contact
from storage.engine import session_scope
from storage.interaction_store import InteractionRecord, PartyRow, insert_interactions
from storage.sync_tables import InteractionSighting, Mailbox, SyncCursor
from tests import factories as f
from worker.run.tick import run_once

NOW = f.NOW


@dataclass(frozen=True)
class Person:
    record_type: str
    record_id: str
    name: str
    addresses: tuple[str, ...]
    aliases: tuple[str, ...] = ()  # other ids Rapport holds, e.g. a mailbox's Graph id

    @property
    def ref(self) -> str:
        return f"{self.record_type}:{self.record_id}"

    @property
    def needles(self) -> tuple[str, ...]:
        """What must not be found anywhere in Rapport's tables after an erasure."""
        return (self.record_id, self.name, *self.addresses, *self.aliases)


DANA = Person(
    "contact",
    "contact-dana-ruiz-0001",
    "Dana Ruiz",
    ("dana.ruiz@contoso.example", "dana.private@mailbox.example"),
)
LEE = Person("contact", "contact-lee-park-0002", "Lee Park", ("lee.park@contoso.example",))
ANA = Person(
    "system_user",
    "user-ana-seller-0001",
    "Ana Seller",
    ("ana.seller@ours.example",),
    ("graph-user-ana-7f3a",),
)
BO = Person("system_user", "user-bo-colleague-0002", "Bo Colleague", ("bo.colleague@ours.example",))
ACCOUNT_ID = "account-contoso-0001"
OPPORTUNITY_ID = "opportunity-contoso-0001"


def seed_crm(engine: Engine) -> None:
    f.user(engine, ANA.record_id, ANA.addresses[0], ANA.name)
    f.user(engine, BO.record_id, BO.addresses[0], BO.name)
    f.account(engine, ACCOUNT_ID, "Contoso", primary=DANA.record_id)
    f.insert(
        engine,
        Contact,
        {
            "id": DANA.record_id,
            "full_name": DANA.name,
            "email": DANA.addresses[0],
            "email2": DANA.addresses[1],
            "account_id": ACCOUNT_ID,
        },
    )
    f.contact(engine, LEE.record_id, LEE.addresses[0], LEE.name, ACCOUNT_ID)
    f.opportunity(
        engine, OPPORTUNITY_ID, ACCOUNT_ID, ANA.record_id, DANA.record_id, (LEE.record_id,)
    )
    _dana_only(engine)
    _shared(engine)
    _lee_only(engine)


def _dana_only(engine: Engine) -> None:
    dana, ana = DANA.addresses[0], ANA.addresses[0]
    for week in range(6):
        thread = f"dana-thread-{week}"
        at = f.days_ago(7 * week + 10)
        f.email(engine, sender=ana, to=[dana], at=at, conversation=thread)
        f.email(engine, sender=dana, to=[ana], at=at + timedelta(hours=5), conversation=thread)
    # Unanswered recent emails: other records' reasons name Dana because of these.
    for day in (3, 5, 8):
        f.email(engine, sender=ana, to=[dana], at=f.days_ago(day), conversation=f"open-{day}")
    f.call(engine, owner=BO.record_id, contact_id=DANA.record_id, at=f.days_ago(12))


def _shared(engine: Engine) -> None:
    dana, lee, ana = DANA.addresses[0], LEE.addresses[0], ANA.addresses[0]
    f.email(engine, sender=ana, to=[dana, lee], at=f.days_ago(20), conversation="shared-1")
    f.meeting(
        engine,
        organizer=ana,
        attendees={dana: "accepted", lee: "accepted"},
        start=f.days_ago(15),
        minutes=60,
    )
    # Logged regarding Dana, but only Lee took part: it stays, without the link.
    f.email(engine, sender=ana, to=[lee], at=f.days_ago(25), regarding=("contact", DANA.record_id))


def _lee_only(engine: Engine) -> None:
    lee, bo = LEE.addresses[0], BO.addresses[0]
    for week in range(5):
        thread = f"lee-thread-{week}"
        at = f.days_ago(7 * week + 4)
        f.email(engine, sender=bo, to=[lee], at=at, conversation=thread)
        f.email(engine, sender=lee, to=[bo], at=at + timedelta(hours=2), conversation=thread)


def seed_exchange(engine: Engine) -> None:
    """Ana's mailbox as the Exchange path leaves it: cursor, sightings, interactions."""
    mailbox = ANA.aliases[0]
    f.insert(
        engine,
        Mailbox,
        {"id": mailbox, "tenant_id": "tenant-ours-0001", "system_user_id": ANA.record_id},
    )
    delta = f"https://graph.microsoft.com/v1.0/users/{mailbox}/mailFolders/inbox/messages/delta"
    f.insert(
        engine,
        SyncCursor,
        {"mailbox_id": mailbox, "folder_id": "inbox", "kind": "mail", "delta_link": delta},
    )
    for key, customer in (
        ("msg:<x-dana-1@ours.example>", DANA),
        ("msg:<x-lee-1@ours.example>", LEE),
    ):
        record = InteractionRecord(
            key=key,
            source="exchange",
            kind="email",
            direction="outbound",
            occurred_at=f.days_ago(2),
            parties=frozenset(
                {
                    PartyRow("system_user", ANA.record_id, "from", "internal"),
                    PartyRow(customer.record_type, customer.record_id, "to", "external"),
                }
            ),
        )
        with session_scope(engine) as session:
            insert_interactions(session=session, records=[record])
        f.insert(
            engine,
            InteractionSighting,
            {
                "mailbox_id": mailbox,
                "item_id": f"item-{key}",
                "interaction_key": key,
                "folder_id": "inbox",
            },
        )


def seed_scored(engine: Engine) -> None:
    """The CRM above and Ana's mailbox, scored, plus audit rows that name Dana."""
    seed_crm(engine)
    seed_exchange(engine)
    run_once(engine, now=NOW)
    with session_scope(engine) as session:
        record_event(
            session=session,
            at=NOW,
            command="export",
            action="subject_exported",
            subject=DANA.addresses[0].upper(),
            details={"format": "json", "requested_by": "privacy desk"},
        )
        record_event(
            session=session,
            at=NOW,
            command="support",
            action="note",
            details={"records": [DANA.ref, LEE.ref], "note": f"{DANA.name} asked for a copy"},
        )
