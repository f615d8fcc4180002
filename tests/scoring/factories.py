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
    StakeholderRole,
)

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)

# The people and colleagues of random books (the columnar core's property tests).
CONTACTS = [RecordRef(RecordType.CONTACT, f"c{n}") for n in range(6)]
LEADS = [RecordRef(RecordType.LEAD, f"l{n}") for n in range(2)]
PEOPLE = CONTACTS + LEADS
USERS = ["u0", "u1", "u2"]

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


# Relationships a seller recognises, shared by the scenario tests.

LATER = NOW + timedelta(days=30)


def deal_scope(*roles: tuple[RecordRef, StakeholderRole]) -> RecordScope:
    return RecordScope(
        DEAL, "Contoso renewal", frozenset(person for person, _ in roles), roles=tuple(roles)
    )


def primary_goes_silent() -> list[Interaction]:
    """The seed scenario: from NOW, Dana (the decision maker) stops answering three
    emails and skips two meetings over 30 days; Lee (the champion) stays engaged."""
    silence = [
        email(NOW + timedelta(days=days), contacts=(DANA,), conversation=f"chase-{days}")
        for days in (3, 10, 20)
    ]
    skipped = [
        meeting(
            NOW + timedelta(days=7), attendees={DANA: Response.DECLINED, LEE: Response.ACCEPTED}
        ),
        meeting(NOW + timedelta(days=21), attendees={DANA: Response.NONE, LEE: Response.ACCEPTED}),
    ]
    return [
        *two_way_history(DANA, weeks=12, prefix="primary"),
        *silence,
        *skipped,
        *two_way_history(LEE, weeks=16, end=LATER, prefix="secondary"),
    ]


def one_good_two_poor() -> list[Interaction]:
    """Dana stays engaged; Lee and Kim stopped answering 75 days ago and our emails
    to both of them since go unanswered."""
    stopped = NOW - timedelta(days=75)
    return [
        *two_way_history(DANA, prefix="a"),
        *two_way_history(LEE, weeks=8, end=stopped, prefix="b"),
        *two_way_history(KIM, weeks=8, end=stopped, prefix="c"),
        *[
            email(days_ago(d), contacts=(LEE, KIM), conversation=f"x{d}")
            for d in (5, 15, 30, 45, 60)
        ],
    ]


def one_way_outreach() -> list[Interaction]:
    return [email(days_ago(days), conversation=f"pitch-{days}") for days in range(2, 60, 5)]


def three_weeks_silent() -> list[Interaction]:
    return two_way_history(DANA, weeks=8, end=days_ago(21))


def calls_only(contact: RecordRef = DANA) -> list[Interaction]:
    """A weekly call for eight weeks, nothing else."""
    return [call(days_ago(7 * week + 2), contact=contact) for week in range(8)]


def meetings_only(contact: RecordRef = DANA) -> list[Interaction]:
    """A weekly meeting of ours for eight weeks, each accepted."""
    return [
        meeting(days_ago(7 * week + 2), attendees={contact: Response.ACCEPTED}) for week in range(8)
    ]


def their_meetings_only(contact: RecordRef = DANA) -> list[Interaction]:
    """A weekly meeting the customer organised, for eight weeks."""
    return [
        Interaction(
            key=f"their-meeting-{contact.id}-{week}",
            kind=Kind.MEETING,
            direction=Direction.INBOUND,
            occurred_at=days_ago(7 * week + 2),
            internal=(colleague(SAM, Response.ACCEPTED),),
            external=(Party(contact, Role.ORGANIZER),),
            duration_minutes=30,
        )
        for week in range(8)
    ]


def emails_only(contact: RecordRef = DANA) -> list[Interaction]:
    """A weekly email of ours answered within hours, for eight weeks."""
    history: list[Interaction] = []
    for week in range(8):
        sent = days_ago(7 * week + 2)
        history += thread(
            f"weekly-{contact.id}-{week}",
            [(sent, False), (sent + timedelta(hours=2), True)],
            contacts=(contact,),
        )
    return history


def copied_on_a_colleagues_emails() -> list[Interaction]:
    """Lee writes to us every week with Kim copied; Kim never writes, and our
    own emails to Kim go unanswered."""
    history: list[Interaction] = []
    for week in range(8):
        history.append(
            email(
                days_ago(7 * week + 1), inbound=True, contacts=(LEE, KIM), conversation=f"l{week}"
            )
        )
    history += [email(days_ago(d), contacts=(KIM,), conversation=f"k{d}") for d in (5, 20, 40, 55)]
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
