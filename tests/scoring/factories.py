"""Interactions, people and scopes for scoring tests.

Everything is relative to NOW (a Wednesday, so the current ISO week started
two days earlier). Keys are derived from the arguments plus a counter, so two
calls never collide and a test never has to invent one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

import hypothesis

from scoring import score_records
from scoring.model import (
    Direction,
    Interaction,
    Kind,
    Party,
    RecordHealth,
    RecordRef,
    RecordScope,
    RecordType,
    Response,
    Role,
    ScoringSettings,
)

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)

DANA = RecordRef(RecordType.CONTACT, "dana")
LEE = RecordRef(RecordType.CONTACT, "lee")
KIM = RecordRef(RecordType.CONTACT, "kim")
LEAD_ROBIN = RecordRef(RecordType.LEAD, "robin")
CONTOSO = RecordRef(RecordType.ACCOUNT, "contoso")
DEAL = RecordRef(RecordType.OPPORTUNITY, "deal")
SAM = "sam"  # system users are referred to by id
ALEX = "alex"
NAMES: dict[RecordRef, str] = {
    DANA: "Dana Ruiz",
    LEE: "Lee Chen",
    KIM: "Kim Park",
    LEAD_ROBIN: "Robin Vale",
    RecordRef(RecordType.SYSTEM_USER, SAM): "Sam Seller",
    RecordRef(RecordType.SYSTEM_USER, ALEX): "Alex Engineer",
}

_keys = itertools.count(1)


def days_ago(days: float, *, hours: float = 0) -> datetime:
    return NOW - timedelta(days=days, hours=hours)


def colleague(user: str, response: Response | None = None, role: Role = Role.REQUIRED) -> Party:
    return Party(RecordRef(RecordType.SYSTEM_USER, user), role, response)


def email(
    at: datetime,
    *,
    inbound: bool = False,
    contacts: Iterable[RecordRef] = (DANA,),
    users: Iterable[str] = (SAM,),
    conversation: str | None = "thread-1",
    regarding: RecordRef | None = None,
    opens: int = 0,
    clicks: int = 0,
    key: str | None = None,
) -> Interaction:
    """An email from us to `contacts` (or, inbound, from the first of them to us)."""
    contacts, users = tuple(contacts), tuple(users)
    customer_roles = (
        [Role.FROM] + [Role.CC] * (len(contacts) - 1) if inbound else [Role.TO] * len(contacts)
    )
    our_roles = [Role.TO] * len(users) if inbound else [Role.FROM] + [Role.CC] * (len(users) - 1)
    return Interaction(
        key=key or f"email-{next(_keys)}",
        kind=Kind.EMAIL,
        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
        occurred_at=at,
        internal=tuple(
            colleague(user, role=role) for user, role in zip(users, our_roles, strict=True)
        ),
        external=tuple(
            Party(ref, role) for ref, role in zip(contacts, customer_roles, strict=True)
        ),
        conversation_id=conversation,
        regarding=regarding,
        opens=opens,
        clicks=clicks,
    )


def thread(
    conversation: str, messages: Iterable[tuple[datetime, bool]], **fields: object
) -> list[Interaction]:
    """Emails of one conversation: (when, inbound) pairs."""
    return [
        email(at, inbound=inbound, conversation=conversation, **fields)  # type: ignore[arg-type]
        for at, inbound in messages
    ]


def meeting(
    at: datetime,
    *,
    attendees: Mapping[RecordRef, Response | None] | None = None,
    users: Mapping[str, Response | None] | None = None,
    inbound: bool = False,
    minutes: float = 30,
    planned: bool = False,
    regarding: RecordRef | None = None,
    key: str | None = None,
) -> Interaction:
    """A meeting organised by us (or, inbound, by the customer)."""
    attendees = {DANA: Response.ACCEPTED} if attendees is None else attendees
    users = {SAM: Response.ACCEPTED} if users is None else users
    return Interaction(
        key=key or f"meeting-{next(_keys)}",
        kind=Kind.MEETING,
        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
        occurred_at=at,
        internal=tuple(colleague(user, answer) for user, answer in users.items()),
        external=tuple(Party(ref, Role.REQUIRED, answer) for ref, answer in attendees.items()),
        duration_minutes=minutes,
        planned=planned,
        regarding=regarding,
    )


def call(
    at: datetime,
    *,
    inbound: bool = False,
    contact: RecordRef = DANA,
    users: Iterable[str] = (SAM,),
    minutes: float = 15,
    key: str | None = None,
) -> Interaction:
    return Interaction(
        key=key or f"call-{next(_keys)}",
        kind=Kind.CALL,
        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
        occurred_at=at,
        internal=tuple(colleague(user) for user in users),
        external=(Party(contact, Role.TO),),
        duration_minutes=minutes,
    )


def task(
    at: datetime,
    *,
    contact: RecordRef = DANA,
    planned: bool = False,
    minutes: float = 0,
    regarding: RecordRef | None = None,
    key: str | None = None,
) -> Interaction:
    return Interaction(
        key=key or f"task-{next(_keys)}",
        kind=Kind.TASK,
        direction=Direction.OUTBOUND,
        occurred_at=at,
        internal=(colleague(SAM),),
        external=(Party(contact, Role.TO),),
        duration_minutes=minutes,
        planned=planned,
        regarding=regarding,
    )


def contact_scope(ref: RecordRef = DANA, *, created_at: datetime | None = None) -> RecordScope:
    return RecordScope(record=ref, name=NAMES[ref], people=frozenset({ref}), created_at=created_at)


def settings(**changes: object) -> ScoringSettings:
    return ScoringSettings(**changes)  # type: ignore[arg-type]


def two_way_history(
    contact: RecordRef = DANA, *, weeks: int = 12, end: datetime = NOW, prefix: str = "hist"
) -> list[Interaction]:
    """A healthy relationship: a weekly email exchange answered within hours, a
    meeting every other week (accepted) and a monthly call, up to `end`."""
    history: list[Interaction] = []
    for week in range(weeks):
        start = end - timedelta(weeks=week, days=2)
        history += thread(
            f"{prefix}-{contact.id}-{week}",
            [
                (start, False),
                (start + timedelta(hours=3), True),
                (start + timedelta(hours=5), False),
            ],
            contacts=(contact,),
        )
        if week % 2 == 0:
            history.append(
                meeting(start + timedelta(days=1), attendees={contact: Response.ACCEPTED})
            )
        if week % 4 == 1:
            history.append(call(start + timedelta(days=1), contact=contact, inbound=True))
    return history


def health_of(
    interactions: Iterable[Interaction],
    scope: RecordScope | None = None,
    *,
    now: datetime = NOW,
    scoring: ScoringSettings | None = None,
) -> RecordHealth:
    """Score one record the way the write-back does: through score_records."""
    scope = scope or contact_scope()
    results = list(
        score_records([scope], list(interactions), scoring or ScoringSettings(), now, NAMES)
    )
    assert len(results) == 1
    return results[0]


def factor(health: RecordHealth, name: str) -> float:
    return next(f.value for f in health.factors if f.name == name)


# Scoring is fast, but CI machines are shared: no per-example deadline.
property_settings = hypothesis.settings(
    max_examples=40, deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
