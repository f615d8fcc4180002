"""How one CRM activity becomes one interaction (the CRM-data path).

Pure functions over plain rows: validation names the column and what is
allowed; a broken row becomes a `RowProblem` and never an exception that
would stop the run. The bounds below are the contract's (docs/crm-contract.md,
"Values Rapport refuses"): a value outside them either rejects the row
(RowRejected) or is bounded or ignored and noted, never taken as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.crm_problems import RowProblem, RowRejected
from storage.crm_tables import (
    ACTIVITY_DIRECTION_VALUES,
    ACTIVITY_KIND_VALUES,
    ACTIVITY_STATUS_VALUES,
    PARTY_RECORD_TYPE_VALUES,
    PARTY_RESPONSE_VALUES,
    PARTY_ROLE_VALUES,
    REGARDING_TYPE_VALUES,
)
from storage.directory import Directory
from storage.interaction_store import InteractionRecord, PartyRow

KIND_OF_ACTIVITY = {
    "email": "email",
    "appointment": "meeting",
    "phone_call": "call",
    "task": "task",
}
SENDER_ROLES = ("from", "organizer")

# Before this a time is a CRM's placeholder (0001-01-01, 1900-01-01, the epoch's
# zero), not a conversation or a record's creation.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
# Clocks differ: a completed activity (or a record) this far after the run's
# now is taken as logged a moment early, not as a date error.
CLOCK_SKEW = timedelta(hours=1)
PLANNED_YEARS_AHEAD = 10  # a planned activity further ahead than this is a date error
MAX_DURATION_MINUTES = 24 * 60.0  # a call or meeting counts at most one day of time spent
MAX_ENGAGEMENT = 10_000  # tracked-email opens or clicks on one email
# A person listed twice in one role keeps the clearest answer, as an Exchange meeting's
# attendee listed twice does (graph_sync.normalise); of two as clear, the lower party id.
# storage.crm_bulk_ingest ranks them the same in SQL.
RESPONSE_CLARITY = {None: 0, "none": 0, "tentative": 1, "declined": 2, "accepted": 2}


@dataclass(frozen=True)
class TimeWindow:
    """The times a CRM row may hold, as of the run's now (None: no bound after)."""

    completed_until: datetime | None  # now + CLOCK_SKEW: what has already happened
    latest: datetime | None  # now + PLANNED_YEARS_AHEAD: what may be planned

    @classmethod
    def around(cls, now: datetime | None) -> TimeWindow:
        if now is None:
            return cls(None, None)
        return cls(now + CLOCK_SKEW, now + timedelta(days=365 * PLANNED_YEARS_AHEAD + 2))


# The values an activity's enumerated columns may hold (None: the column may be empty).
_DIRECTIONS = (*ACTIVITY_DIRECTION_VALUES, None)
_REGARDING_TYPES = (*REGARDING_TYPE_VALUES, None)


def _require(activity: Any, column: str, allowed: tuple[str | None, ...]) -> None:
    if getattr(activity, column) not in allowed:
        shown = ", ".join("empty" if value is None else value for value in allowed)
        raise RowRejected(
            RowProblem(
                "crm_activity", activity.id, column, getattr(activity, column), f"one of {shown}"
            )
        )


def _check_party(activity_id: str, party: Any) -> None:
    for column, allowed in (("role", PARTY_ROLE_VALUES), ("response", PARTY_RESPONSE_VALUES)):
        value = getattr(party, column)
        if value is not None and value not in allowed:
            raise RowRejected(
                RowProblem(
                    "crm_activity_party",
                    _party_id(activity_id, party),
                    column,
                    value,
                    f"one of {', '.join(allowed)}",
                )
            )


def _party_row_id(party: Any) -> Any:
    return party.id


def _party_id(activity_id: str, party: Any) -> str:
    return f"{party.id} (activity {activity_id})"


def _occurred_at(activity: Any, window: TimeWindow) -> datetime:
    """When it happened: start_at, or end_at without one; rejects a time that cannot be."""
    column = "start_at" if activity.start_at is not None else "end_at"
    when: datetime | None = getattr(activity, column)

    def reject(allowed: str, handling: str = "row skipped") -> RowRejected:
        return RowRejected(RowProblem("crm_activity", activity.id, column, when, allowed, handling))

    if when is None:
        raise reject("a timestamp (or end_at)")
    if when < EARLIEST:
        raise reject(f"a time from {EARLIEST.date()} on")
    done = window.completed_until
    if activity.status == "completed" and done is not None and when > done:
        # Taken as planned it would show as the next activity; it says it is done.
        raise reject(
            "a time before the run's now for a completed activity",
            "row skipped until that time has come",
        )
    if window.latest is not None and when > window.latest:
        raise reject(f"a time at most {PLANNED_YEARS_AHEAD} years after the run's now")
    return when


def _duration_minutes(activity: Any, noted: list[RowProblem]) -> float:
    start: datetime | None = activity.start_at
    end: datetime | None = activity.end_at
    if activity.kind == "email" or start is None or end is None or end == start:
        return 0.0
    if end < start:
        noted.append(
            RowProblem(
                "crm_activity",
                activity.id,
                "end_at",
                end,
                "a time after start_at",
                "ignored: no time spent counted",
            )
        )
        return 0.0
    minutes = round((end - start).total_seconds() / 60.0, 2)
    if minutes <= MAX_DURATION_MINUTES:
        return minutes
    noted.append(
        RowProblem(
            "crm_activity",
            activity.id,
            "end_at",
            end,
            "at most 24 hours after start_at",
            "time spent counted as 24 hours",
        )
    )
    return MAX_DURATION_MINUTES


def _whole_number(activity: Any, column: str) -> int:
    """A count as stored; SQLite keeps any text in an integer column: that row is skipped."""
    value = getattr(activity, column)
    if value is None:
        return 0
    if type(value) is not int:
        raise RowRejected(RowProblem("crm_activity", activity.id, column, value, "a whole number"))
    return value


def _engagement(activity: Any, column: str, noted: list[RowProblem]) -> int:
    """Opens or clicks; outside 0..MAX_ENGAGEMENT the tracking is broken: counted as 0."""
    value = _whole_number(activity, column)
    if 0 <= value <= MAX_ENGAGEMENT:
        return value
    noted.append(
        RowProblem(
            "crm_activity",
            activity.id,
            column,
            value,
            f"from 0 to {MAX_ENGAGEMENT:,}",
            "counted as 0",
        )
    )
    return 0


def _reference(
    activity_id: str, party: Any, directory: Directory, noted: list[RowProblem]
) -> tuple[str, str] | None:
    """The record a party names by reference, if it is one we know.

    A reference to an unknown record type, or to a record the CRM does not
    hold, is noted; the party is then matched by its address like one that
    names none. A record erased on request is not a problem: it is meant to
    match nobody, and is not named in the report either.
    """
    record_type, record_id = party.record_type, party.record_id
    if record_type is None or record_id is None:
        return None
    if record_type not in PARTY_RECORD_TYPE_VALUES:
        noted.append(
            RowProblem(
                "crm_activity_party",
                _party_id(activity_id, party),
                "record_type",
                record_type,
                f"one of {', '.join(PARTY_RECORD_TYPE_VALUES)}",
                "reference ignored; matched by address",
            )
        )
        return None
    record = directory.match_record(record_type, record_id)
    if record is None and not directory.record_erased(record_type, record_id):
        noted.append(
            RowProblem(
                "crm_activity_party",
                _party_id(activity_id, party),
                "record_id",
                record_id,
                f"the id of a {record_type} in the CRM",
                "reference ignored; matched by address",
            )
        )
    return record


def _matched_parties(
    activity: Any, parties: list[Any], directory: Directory, noted: list[RowProblem]
) -> set[PartyRow]:
    # One person in one role is one participant (interaction_party's key), however many
    # party rows name them: two of their addresses, a reference and an address.
    people: dict[tuple[str, str, str], PartyRow] = {}
    for party in sorted(parties, key=_party_row_id):
        _check_party(activity.id, party)
        record = _reference(activity.id, party, directory, noted)
        record = record or directory.match_address(party.address)
        if record is None:
            continue  # nobody we know: the address is not kept
        side = "internal" if record[0] == "system_user" else "external"
        response = party.response if activity.kind == "appointment" else None
        found = PartyRow(record[0], record[1], party.role, side, response)
        kept = people.get(found[:3])
        if kept is None or RESPONSE_CLARITY[response] > RESPONSE_CLARITY[kept.response]:
            people[found[:3]] = found
    matched = set(people.values())
    owner = _owner(activity, directory, noted)
    if owner and not any(party.side == "internal" for party in matched):
        # A logged call often lists only the customer: the owner was the one talking.
        matched.add(PartyRow(owner[0], owner[1], _owner_role(activity), "internal"))
    return matched


def _owner(activity: Any, directory: Directory, noted: list[RowProblem]) -> tuple[str, str] | None:
    owner = directory.match_record("system_user", activity.owner_id)
    if owner is None and activity.owner_id is not None:
        if not directory.record_erased("system_user", activity.owner_id):
            noted.append(
                RowProblem(
                    "crm_activity",
                    activity.id,
                    "owner_id",
                    activity.owner_id,
                    "the id of a system_user in the CRM",
                    "ignored: the activity has no owner",
                )
            )
    return owner


def _owner_role(activity: Any) -> str:
    if activity.kind == "appointment":
        return "organizer"
    return "to" if activity.direction == "incoming" else "from"


def _direction(activity: Any, parties: set[PartyRow]) -> str:
    if activity.direction in ACTIVITY_DIRECTION_VALUES:
        return "outbound" if activity.direction == "outgoing" else "inbound"
    senders = [party for party in parties if party.role in SENDER_ROLES]
    if senders and all(party.side == "external" for party in senders):
        return "inbound"
    return "outbound"


def interaction_key(activity: Any) -> str:
    # A tracked email carries its Internet message id: keying it like Exchange
    # does makes the same email count once whichever path saw it first.
    if activity.kind == "email" and activity.internet_message_id:
        return f"msg:{activity.internet_message_id.strip()}"
    return f"crm:{activity.id}"


def to_interaction(
    activity: Any,
    parties: list[Any],
    directory: Directory,
    *,
    window: TimeWindow,
    noted: list[RowProblem],
) -> InteractionRecord | None:
    """The interaction for one activity; None when it is not one (cancelled, nobody known).

    Raises RowRejected, naming the column, for a row that breaks the contract;
    appends to `noted` each value it bounded or ignored instead.
    """
    _require(activity, "kind", ACTIVITY_KIND_VALUES)
    _require(activity, "status", ACTIVITY_STATUS_VALUES)
    _require(activity, "direction", _DIRECTIONS)
    _require(activity, "regarding_type", _REGARDING_TYPES)
    if activity.status == "cancelled":
        return None
    occurred_at = _occurred_at(activity, window)
    opens, clicks = _engagement(activity, "opens", noted), _engagement(activity, "clicks", noted)
    matched = _matched_parties(activity, parties, directory, noted)
    has_customer = any(party.side == "external" for party in matched)
    if not has_customer and activity.regarding_id is None:
        return None  # internal-only: says nothing about a customer relationship
    return InteractionRecord(
        key=interaction_key(activity),
        source="crm",
        kind=KIND_OF_ACTIVITY[activity.kind],
        direction=_direction(activity, matched),
        occurred_at=occurred_at,
        parties=frozenset(matched),
        duration_minutes=_duration_minutes(activity, noted),
        conversation_id=activity.conversation_id,
        regarding_type=activity.regarding_type if activity.regarding_id else None,
        regarding_id=activity.regarding_id,
        planned=activity.status == "open",
        opens=opens,
        clicks=clicks,
        crm_activity_id=activity.id,
    )
