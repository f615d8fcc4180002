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
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.engine import is_postgres
from storage.interaction_store import PARTY, ROW_COLUMNS, InteractionRecord, PartyRow, chunks
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
        if is_postgres(session):
            doomed = doomed.with_for_update(skip_locked=True)
        session.execute(
            sa.delete(SIGHTING).where(
                sa.tuple_(SIGHTING.c.mailbox_id, SIGHTING.c.item_id).in_(doomed)
            )
        )


def with_parties(record: InteractionRecord, parties: frozenset[PartyRow]) -> InteractionRecord:
    values: dict[str, Any] = {**record.row(), "parties": parties}
    return InteractionRecord(**values)


@dataclass(frozen=True, slots=True)
class CopyOrigin:
    """Whose copy a page holds: the mailbox, its owner, and what the copies imply."""

    mailbox_id: str
    owner: str | None  # the mailbox's system user
    decided_elsewhere: frozenset[str]  # meetings whose organizer's copy another mailbox syncs

    def combine(
        self, record: InteractionRecord, row: dict[str, Any], stored: frozenset[PartyRow]
    ) -> InteractionRecord:
        """A stored Exchange interaction, once this mailbox's copy of it is taken in."""
        if record.kind != "meeting":
            return with_parties(record, mail_parties(stored, record.parties))
        organizer = organizer_of(record.parties)
        if record.key in self.decided_elsewhere and (organizer is None or organizer != self.owner):
            # An attendee's replica: the stored meeting stays as the organizer's copy has it.
            kept = InteractionRecord(**{**{f: row[f] for f in ROW_COLUMNS}, "parties": stored})
            return with_parties(kept, replica_answers(stored, record.parties))
        return with_parties(record, meeting_parties(stored, record.parties))


def copy_origin(
    session: Session, mailbox_id: str, kind: str, stored_keys: Sequence[str]
) -> CopyOrigin:
    """What to know about a page of `mailbox_id` whose stored interactions are `stored_keys`."""
    if kind != "calendar":
        return CopyOrigin(mailbox_id, None, frozenset())
    decided = decided_elsewhere(session, stored_keys, mailbox_id) if stored_keys else set()
    return CopyOrigin(mailbox_id, mailbox_owner(session, mailbox_id), frozenset(decided))


def cancel_withdrawn(session: Session, origin: CopyOrigin, dropped: set[str]) -> set[str]:
    """Meetings whose organizer's own copy this page dropped: cancelled for everyone."""
    if origin.owner is None or not dropped:
        return set()
    withdrawn = withdrawn_by_organizer(session, sorted(dropped), origin.owner)
    if withdrawn:
        forget_copies(session, sorted(withdrawn))
    return withdrawn
