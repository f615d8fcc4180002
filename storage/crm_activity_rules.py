"""How one CRM activity becomes one interaction (the CRM-data path).

Pure functions over plain rows: validation names the column and what is
allowed; a broken row becomes a `RowProblem` and never an exception that
would stop the run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.crm_tables import (
    ACTIVITY_DIRECTION_VALUES,
    ACTIVITY_KIND_VALUES,
    ACTIVITY_STATUS_VALUES,
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


@dataclass(frozen=True)
class RowProblem:
    table: str
    row_id: str
    column: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        return (
            f"{self.table} {self.row_id!r}: {self.column} {self.value!r} is not allowed; "
            f"expected {self.allowed}"
        )


class RowRejected(Exception):
    def __init__(self, problem: RowProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _require(activity: Any, column: str, allowed: Iterable[str | None]) -> None:
    allowed = tuple(allowed)
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
                    f"{party.id} (activity {activity_id})",
                    column,
                    value,
                    f"one of {', '.join(allowed)}",
                )
            )


def _occurred_at(activity: Any) -> datetime:
    when = activity.start_at or activity.end_at
    if when is None:
        raise RowRejected(
            RowProblem("crm_activity", activity.id, "start_at", None, "a timestamp (or end_at)")
        )
    return when  # type: ignore[no-any-return]


def _duration_minutes(activity: Any) -> float:
    start: datetime | None = activity.start_at
    end: datetime | None = activity.end_at
    if activity.kind == "email" or start is None or end is None or end <= start:
        return 0.0
    return round((end - start).total_seconds() / 60.0, 2)


def _matched_parties(activity: Any, parties: list[Any], directory: Directory) -> set[PartyRow]:
    matched: set[PartyRow] = set()
    for party in parties:
        _check_party(activity.id, party)
        record = directory.match_record(party.record_type, party.record_id)
        record = record or directory.match_address(party.address)
        if record is None:
            continue  # nobody we know: the address is not kept
        side = "internal" if record[0] == "system_user" else "external"
        response = party.response if activity.kind == "appointment" else None
        matched.add(PartyRow(record[0], record[1], party.role, side, response))
    owner = directory.match_record("system_user", activity.owner_id)
    if owner and not any(party.side == "internal" for party in matched):
        # A logged call often lists only the customer: the owner was the one talking.
        matched.add(PartyRow(owner[0], owner[1], _owner_role(activity), "internal"))
    return matched


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
    activity: Any, parties: list[Any], directory: Directory
) -> InteractionRecord | None:
    """The interaction for one activity; None when it is not one (cancelled, nobody known).

    Raises RowRejected, naming the column, for a row that breaks the contract.
    """
    _require(activity, "kind", ACTIVITY_KIND_VALUES)
    _require(activity, "status", ACTIVITY_STATUS_VALUES)
    _require(activity, "direction", (*ACTIVITY_DIRECTION_VALUES, None))
    _require(activity, "regarding_type", (*REGARDING_TYPE_VALUES, None))
    if activity.status == "cancelled":
        return None
    occurred_at = _occurred_at(activity)
    matched = _matched_parties(activity, parties, directory)
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
        duration_minutes=_duration_minutes(activity),
        conversation_id=activity.conversation_id,
        regarding_type=activity.regarding_type if activity.regarding_id else None,
        regarding_id=activity.regarding_id,
        planned=activity.status == "open",
        opens=int(activity.opens or 0),
        clicks=int(activity.clicks or 0),
        crm_activity_id=activity.id,
    )
