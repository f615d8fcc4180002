"""How the copies of one interaction in several mailboxes make one set of parties.

Mail: every copy is the same message as its mailbox saw it, and some people
are visible in one copy only (BCC recipients in the sender's copy), so the
parties are the union of the copies, with the latest answer per person.

Meetings: the organizer's calendar item is the meeting; each attendee's item
is a replica Exchange updates after the organizer changes it (and a removed
attendee's replica is cancelled, not updated). So the organizer's copy,
when its mailbox is synced, decides who is invited, when and how long the
meeting is, and whether it still takes place: removing or cancelling it
removes the meeting for everyone, while an attendee's replica only tells
that attendee's own answer. Without the organizer's copy (an external
organizer, an organizer whose mailbox is not read), the latest replica
committed decides; replicas converge as Exchange updates them.

An attendee's calendar item usually shows "none" for everybody else's answer:
an uninformed answer never overwrites an informed one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.interaction_store import PARTY, InteractionRecord, PartyRow, chunks
from storage.sync_tables import InteractionSighting, Mailbox
from storage.types import core_table

SIGHTING = core_table(InteractionSighting)
MAILBOX = core_table(Mailbox)
UNINFORMED = (None, "none")
PartyKey = tuple[str, str, str]  # record type, record id, role


def _key(party: PartyRow) -> PartyKey:
    return (party.record_type, party.record_id, party.role)


def _answer(kept: PartyRow | None, party: PartyRow) -> PartyRow:
    """`party`, unless it knows less than the answer already kept for that person."""
    if kept is not None and party.response in UNINFORMED and kept.response not in UNINFORMED:
        return kept
    return party


def mail_parties(stored: frozenset[PartyRow], copy: frozenset[PartyRow]) -> frozenset[PartyRow]:
    """The union of a message's copies: everyone stays."""
    best = {_key(party): party for party in stored}
    for party in copy:
        best[_key(party)] = _answer(best.get(_key(party)), party)
    return frozenset(best.values())


def meeting_parties(stored: frozenset[PartyRow], copy: frozenset[PartyRow]) -> frozenset[PartyRow]:
    """The invitees of the deciding copy, with the best answer known for each."""
    known = {_key(party): party for party in stored}
    return frozenset(_answer(known.get(_key(party)), party) for party in copy)


def replica_answers(
    stored: frozenset[PartyRow], replica: frozenset[PartyRow]
) -> frozenset[PartyRow]:
    """An attendee's replica while the organizer's copy decides: answers only, no invitees."""
    answers = {_key(party): party for party in replica}
    return frozenset(
        _answer(party, answers[_key(party)]) if _key(party) in answers else party
        for party in stored
    )


def organizer_of(parties: frozenset[PartyRow]) -> str | None:
    """The system user who organizes the meeting (None: an external organizer)."""
    for party in parties:
        if party.role == "organizer" and party.record_type == "system_user":
            return party.record_id
    return None


def mailbox_owner(session: Session, mailbox_id: str) -> str | None:
    """The system user whose mailbox this is."""
    query = sa.select(MAILBOX.c.system_user_id).where(MAILBOX.c.id == mailbox_id)
    owner: str | None = session.execute(query).scalar()
    return owner


def _organizer_sightings(session: Session, keys: Sequence[str]) -> Any:
    """Sightings of these meetings in their organizer's own mailbox."""
    return (
        sa.select(SIGHTING.c.interaction_key, SIGHTING.c.mailbox_id)
        .join(MAILBOX, MAILBOX.c.id == SIGHTING.c.mailbox_id)
        .join(
            PARTY,
            (PARTY.c.interaction_key == SIGHTING.c.interaction_key)
            & (PARTY.c.record_id == MAILBOX.c.system_user_id),
        )
        .where(
            SIGHTING.c.interaction_key.in_(keys),
            PARTY.c.role == "organizer",
            PARTY.c.record_type == "system_user",
        )
    )


def decided_elsewhere(session: Session, keys: Sequence[str], mailbox_id: str) -> set[str]:
    """Meetings whose organizer's own copy is synced in another mailbox than this one."""
    decided: set[str] = set()
    for batch in chunks(keys):
        for key, seen_by in session.execute(_organizer_sightings(session, batch)):
            if seen_by != mailbox_id:
                decided.add(key)
    return decided


def withdrawn_by_organizer(session: Session, keys: Sequence[str], owner: str) -> set[str]:
    """Meetings among `keys` (just dropped from `owner`'s calendar) that `owner` organizes."""
    withdrawn: set[str] = set()
    for batch in chunks(keys):
        query = sa.select(PARTY.c.interaction_key).where(
            PARTY.c.interaction_key.in_(batch),
            PARTY.c.role == "organizer",
            PARTY.c.record_type == "system_user",
            PARTY.c.record_id == owner,
        )
        withdrawn.update(session.scalars(query))
    return withdrawn


def forget_copies(session: Session, keys: Sequence[str]) -> None:
    """Every mailbox's sighting of these (cancelled) meetings.

    The caller holds the keys' locks, so no writer is adding a sighting of them.
    On PostgreSQL a sighting another transaction is deleting right now (a purge
    of that mailbox, which locks keys only after deleting its rows) is skipped
    rather than waited for: waiting would deadlock, and it is going anyway.
    """
    for batch in chunks(keys):
        doomed = sa.select(SIGHTING.c.mailbox_id, SIGHTING.c.item_id).where(
            SIGHTING.c.interaction_key.in_(batch)
        )
        if session.get_bind().dialect.name == "postgresql":
            doomed = doomed.with_for_update(skip_locked=True)
        session.execute(
            sa.delete(SIGHTING).where(
                sa.tuple_(SIGHTING.c.mailbox_id, SIGHTING.c.item_id).in_(doomed)
            )
        )


def with_parties(record: InteractionRecord, parties: frozenset[PartyRow]) -> InteractionRecord:
    values: dict[str, Any] = {**record.row(), "parties": parties}
    return InteractionRecord(**values)
