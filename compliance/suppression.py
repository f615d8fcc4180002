"""Keeping an erased subject out for good, and letting them back in with consent.

`rapport erase` lists the subject's identifiers as one-way tokens
(storage.suppression): every address of every matched record and each record
reference (`contact:ID`). Matching, CRM
ingestion, Exchange normalisation and scoring then treat them as unknown,
even while the CRM still holds the record or a new CRM record carries one of
the addresses. `rapport erase --release` takes the tokens off the list for a
subject who came back and consented; it is audited like the erasure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from compliance.exceptions import SubjectError
from compliance.subjects import Subject, resolve_subject
from compliance.tables import SUBJECT_TYPES
from storage.audit import record_event
from storage.directory import normalise_address
from storage.engine import session_scope
from storage.suppression import (
    SubjectHasher,
    existing_hasher,
    load_suppression,
    pending_tokens,
    record_reference,
    release,
    store_hasher,
    suppress,
)

RELEASE_COMMAND, RELEASE_ACTION = "erase --release", "subject_released"


def subject_identifiers(subject: Subject) -> list[str]:
    """What goes on the suppression list for a subject (before hashing)."""
    found = {subject.query}
    for record in subject.records:
        found.add(record_reference(record.record_type, record.record_id))
        found.update(record.addresses)
    return sorted(found)


def pending_suppression(session: Session, subject: Subject) -> int:
    """How many of the subject's tokens an erasure would add; changes nothing (dry run)."""
    identifiers = subject_identifiers(subject)
    hasher = existing_hasher(session=session)
    if hasher is None:
        return len({i.strip().lower() for i in identifiers})  # no salt yet: nothing listed
    return len(pending_tokens(session=session, hasher=hasher, identifiers=identifiers))


def suppress_subject(
    session: Session, subject: Subject, hasher: SubjectHasher, now: datetime
) -> int:
    """Put the subject on the suppression list, in the erasure's transaction."""
    tokens = pending_tokens(
        session=session, hasher=hasher, identifiers=subject_identifiers(subject)
    )
    return suppress(session=session, tokens=tokens, at=now)


@dataclass(frozen=True)
class ReleaseReport:
    subject_token: str  # how the audit log names the subject
    released: int  # tokens taken off the list


def release_subject(engine: Engine, subject: str, *, now: datetime) -> ReleaseReport:
    """Take an erased subject off the suppression list: the next run derives them again.

    The subject is named as for an erasure. By address: the address and every
    CRM record now carrying it are released; by `TYPE:ID`: the record and its
    addresses. The audit row names the subject by token.
    """
    with session_scope(engine) as session:
        identifiers = _release_identifiers(session, subject)
        hasher = store_hasher(session=session, now=now)
        listed = load_suppression(session=session).tokens
        tokens = {hasher.token(identifier) for identifier in identifiers} & listed
        released = release(session=session, tokens=tokens)
        token = hasher.token(identifiers[0])
        record_event(
            session=session,
            at=now,
            command=RELEASE_COMMAND,
            action=RELEASE_ACTION,
            subject=token,
            details={"released": released},
        )
    return ReleaseReport(token, released)


def _release_identifiers(session: Session, text: str) -> list[str]:
    """The subject as given first, then what the CRM links to it now.

    Unlike an erasure, a release accepts a subject the CRM does not hold
    (yet): the address of someone who is about to come back is enough.
    """
    query = text.strip()
    record_type, separator, record_id = query.partition(":")
    if separator and record_type in SUBJECT_TYPES and record_id.strip():
        given = record_reference(record_type, record_id.strip())
    elif "@" in query and not separator:
        given = normalise_address(query)
    else:
        raise SubjectError(
            f"subject: {text!r} is not allowed; expected an email address or TYPE:ID with TYPE "
            f"one of {', '.join(SUBJECT_TYPES)}"
        )
    try:
        linked = subject_identifiers(resolve_subject(session=session, text=query))
    except SubjectError:
        linked = []
    return [given, *(identifier for identifier in linked if identifier != given)]
