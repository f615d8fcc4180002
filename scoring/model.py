"""Plain data in and out of scoring.

Everything here is an immutable value: no session, no client, no clock. The
storage layer turns rows into these values, scoring turns them into
`RecordHealth`, and the storage layer writes that back. Names follow the
Dynamics 365 relationship-analytics vocabulary so that a CRM can map our
fields one to one (see docs/crm-contract.md).

`RecordRef`, `Party` and `Interaction` are NamedTuples rather than
dataclasses on purpose: scoring builds and hashes millions of them per run,
and tuples are built and hashed in C.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any, NamedTuple, TypeVar, cast


class Kind(StrEnum):
    EMAIL = "email"
    MEETING = "meeting"
    CALL = "call"
    TASK = "task"


class Direction(StrEnum):
    """Seen from our side: outbound = our team to the customer."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class RecordType(StrEnum):
    CONTACT = "contact"
    LEAD = "lead"
    OPPORTUNITY = "opportunity"
    ACCOUNT = "account"
    SYSTEM_USER = "system_user"


class Role(StrEnum):
    FROM = "from"
    TO = "to"
    CC = "cc"
    BCC = "bcc"
    ORGANIZER = "organizer"
    REQUIRED = "required"
    OPTIONAL = "optional"


class Response(StrEnum):
    """A meeting attendee's answer to the invitation."""

    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"
    NONE = "none"


class Frequency(StrEnum):
    """How often the organisation expects to talk to a customer."""

    DAILY = "daily"
    EVERY_FEW_DAYS = "every_few_days"
    WEEKLY = "weekly"
    EVERY_COUPLE_OF_WEEKS = "every_couple_of_weeks"
    MONTHLY = "monthly"


class HealthState(IntEnum):
    """Dataverse `msdyn_relationshiphealthscorestate`."""

    GOOD = 0
    FAIR = 1
    POOR = 2
    NOT_ENOUGH_INFO = 3
    NO_CLOSED_ACTIVITIES = 4
    COMPUTATION_IN_PROGRESS = 5
    SOMETHING_WENT_WRONG = 6
    RECORD_OLDER_THAN_2_YEARS = 7


class Trend(IntEnum):
    """Dataverse `msdyn_relationshiphealthtrend`."""

    IMPROVING = 0
    STEADY = 1
    DECLINING = 2
    NOT_ENOUGH_INFO = 3
    SOMETHING_WENT_WRONG = 4
    NOT_APPLICABLE = 5


class StakeholderRole(StrEnum):
    """What a person is to a deal (docs/scoring.md, "Deals and accounts").

    The CRM's `opportunity_stakeholder.role` is free text; scoring.rollup maps
    it onto this vocabulary. The deal's customer contact and the account's
    primary contact have roles of their own.
    """

    CUSTOMER_CONTACT = "customer contact"
    DECISION_MAKER = "decision maker"
    ECONOMIC_BUYER = "economic buyer"
    CHAMPION = "champion"
    INFLUENCER = "influencer"
    PRIMARY_CONTACT = "primary contact"  # the account's
    OTHER = "other"


class RecordRef(NamedTuple):
    type: RecordType
    id: str


class Party(NamedTuple):
    """One participant of an interaction, already matched to a CRM record.

    Internal parties are system users, external parties are contacts or leads.
    Addresses that matched nothing never get this far.
    """

    ref: RecordRef
    role: Role
    response: Response | None = None


class Interaction(NamedTuple):
    """One real-world conversation event (an email, a meeting, a call, a task).

    A NamedTuple like `Party`: a run builds a million of these, and a tuple is
    built in C where a frozen dataclass runs `object.__setattr__` per field.
    """

    key: str
    kind: Kind
    direction: Direction
    occurred_at: datetime  # UTC, timezone-aware
    internal: tuple[Party, ...]
    external: tuple[Party, ...]
    duration_minutes: float = 0.0
    conversation_id: str | None = None
    regarding: RecordRef | None = None
    # A future meeting or an open task: it only feeds "next activity".
    planned: bool = False
    # Engagement with a tracked email (CRM only).
    opens: int = 0
    clicks: int = 0


@dataclass(frozen=True, slots=True)
class RecordScope:
    """Which interactions belong to a CRM record (see REFERENCE.md).

    An interaction counts for the record when its `regarding` is the record, or
    when one of its external parties is in `people` and (`team` is None or one
    of its internal parties is in `team`).
    """

    record: RecordRef
    name: str
    people: frozenset[RecordRef]
    team: frozenset[str] | None = None
    created_at: datetime | None = None
    # The people who matter most to the record, with what they are to it (a
    # deal's customer contact and its stakeholders, an account's primary
    # contact and its deals' key people). Deals and accounts roll their
    # people's health up (scoring.rollup); other records ignore it.
    roles: tuple[tuple[RecordRef, StakeholderRole], ...] = ()


@dataclass(frozen=True, slots=True)
class ScoringSettings:
    """The admin's relationship-analytics settings, as scoring needs them."""

    influence: Mapping[Kind, int] = field(default_factory=lambda: dict.fromkeys(Kind, 6))
    frequency: Frequency = Frequency.WEEKLY
    good_min: int = 60
    fair_min: int = 40
    analytics_enabled: bool = True


@dataclass(frozen=True, slots=True)
class WeekCounts:
    """One week of the KPI timeline; `week_start` is a Monday (UTC)."""

    week_start: datetime
    emails_sent: int = 0
    emails_received: int = 0
    meetings: int = 0
    phone_calls: int = 0


@dataclass(frozen=True, slots=True)
class Kpis:
    """Lifetime KPIs of one record, for our team and for the customer."""

    emails_sent: int = 0
    emails_received: int = 0
    meetings_sent: int = 0
    meetings_received: int = 0
    phone_calls_made: int = 0
    phone_calls_received: int = 0
    replies_by_us: int = 0
    replies_by_them: int = 0
    time_spent_by_team_minutes: float = 0.0
    time_spent_by_customer_minutes: float = 0.0
    avg_first_response_by_us_hours: float | None = None
    avg_first_response_by_them_hours: float | None = None
    response_rate_by_us: float | None = None  # 0..1
    response_rate_by_them: float | None = None  # 0..1
    last_activity_at: datetime | None = None
    last_activity_kind: Kind | None = None
    last_activity_direction: Direction | None = None
    next_activity_at: datetime | None = None
    next_activity_kind: Kind | None = None
    email_opens: int = 0
    email_clicks: int = 0
    weekly: tuple[WeekCounts, ...] = ()
    # Top 3 system users by interaction count: (system_user_id, count).
    most_contacted: tuple[tuple[str, int], ...] = ()
    computation_accuracy: str = "complete"  # "complete" | "partial"


@dataclass(frozen=True, slots=True)
class Factor:
    """One named input of the health score and what it contributed."""

    name: str  # "recency", "frequency", "engagement", "activity_mix"
    value: float  # the factor's own 0..1 reading
    weight: float  # its share of the score (weights sum to 1)
    points: float  # value * weight * 100: its contribution to the score
    detail: str  # one line a seller understands


@dataclass(frozen=True, slots=True)
class WeakestContact:
    """A deal's or account's key person with the lowest health score."""

    person: RecordRef
    name: str
    role: StakeholderRole
    score: int
    # When their silence began: the last time they took part (a reply, a call,
    # a meeting), None when they never did.
    since: datetime | None


@dataclass(frozen=True, slots=True)
class RecordHealth:
    record: RecordRef
    score: int | None
    state: HealthState | None
    trend: Trend
    kpis: Kpis
    factors: tuple[Factor, ...] = ()
    reasons: tuple[str, ...] = ()
    weakest: WeakestContact | None = None  # deals and accounts only


_Value = TypeVar("_Value")


def by_position(cls: type[_Value]) -> Callable[..., _Value]:
    """A constructor of the frozen dataclass `cls` taking every field by position,
    three to five times faster than `cls`'s own `__init__`, for what a run builds
    per record (the columnar core's results).

    A frozen dataclass's `__init__` stores each field through `object.__setattr__`
    (0.1-0.3 µs a field). The constructor made here is a twin class with the same
    slots whose `__init__` stores them as plain attributes and then gives the object
    `cls` as its class (Python allows that between classes of the same slots): an
    instance of `cls`, equal, hashed, pickled and frozen as one made by `cls(...)`.
    Its source is generated as dataclasses generates `__init__`."""
    names = tuple(item.name for item in fields(cls))  # type: ignore[arg-type]
    if getattr(cls, "__slots__", None) != names:  # the twin must have cls's very layout
        raise TypeError(f"{cls.__name__}: by_position needs a dataclass made with slots=True")
    stores = "".join(f"    self.{name} = {name}\n" for name in names)
    source = f"def __init__(self, {', '.join(names)}):\n{stores}    self.__class__ = cls\n"
    namespace: dict[str, Any] = {"cls": cls}
    exec(source, namespace)  # noqa: S102 - the source is made of the dataclass's field names
    twin = type(cls.__name__, (), {"__slots__": names, "__init__": namespace["__init__"]})
    return cast("Callable[..., _Value]", twin)


new_kpis = by_position(Kpis)
new_factor = by_position(Factor)
new_health = by_position(RecordHealth)
new_weakest = by_position(WeakestContact)
