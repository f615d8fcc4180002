"""A record's drill-down: its weekly KPI series and its interactions, metadata only.

For graphs and for a seller who asks "what happened here?": the weeks come
from the stored KPI timeline (the scoring run's, 13 weeks ending with the
computation's week), the interactions from the store, newest first. Each
interaction shows its kind, direction, time, duration and who took part on
each side, by name (CRM people and system users only, as stored): never a
subject or a body, which Rapport does not hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

TIMELINE_WEEKS = 13  # what the KPI timeline keeps (scoring.prepared.TIMELINE_WEEKS)
WEEK_FIELDS = ("emails_sent", "emails_received", "meetings", "phone_calls")
# Roles in the order a reader expects them: who wrote or organised, then who received.
ROLE_ORDER = {"from": 0, "organizer": 1, "to": 2, "required": 3, "cc": 4, "optional": 5}


class InteractionReader(Protocol):
    """A record's interactions since `since`, newest first, at most `limit`, and who took
    part in them (storage.insights_read.timeline_interactions, bound to the record)."""

    def __call__(
        self, *, since: datetime, limit: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]: ...


def drill_down(
    stored: Mapping[str, Any] | None,
    *,
    weeks: int,
    limit: int,
    now: datetime,
    read: InteractionReader,
) -> dict[str, Any]:
    """What the record page and `rapport health timeline` show of a record: the last
    `weeks` of its stored KPI timeline (`stored`: its `weekly` and `computed_at`; None:
    never scored) and at most `limit` interactions since the first of them, read by
    `read` (the store's, passed in)."""
    series = week_series((stored or {}).get("weekly") or [], weeks)
    computed_at = None if stored is None else stored["computed_at"]
    since = interactions_since(series, computed_at, now)
    found, parties = read(since=since, limit=limit)
    return {
        "since": since,
        "weeks": series,
        "interactions": interaction_entries(found, parties),
        "interactions_limit": limit,
    }


def week_series(weekly: Sequence[Mapping[str, Any]], weeks: int) -> list[dict[str, Any]]:
    """The last `weeks` weeks of the stored timeline, oldest first, as plain dicts."""
    ordered = sorted(weekly, key=lambda week: str(week["week_start"]))
    return (
        [
            {
                "week_start": _iso(week["week_start"]),
                **{f: int(week.get(f, 0)) for f in WEEK_FIELDS},
            }
            for week in ordered[-weeks:]
        ]
        if weeks > 0
        else []
    )


def interactions_since(
    series: Sequence[Mapping[str, Any]], computed_at: datetime | None, now: datetime
) -> datetime:
    """Where the interactions shown start: the first week shown; for a record with
    no stored weeks, 13 weeks before its computation (never scored: before `now`)."""
    if series:
        start = datetime.fromisoformat(series[0]["week_start"])
        return start if start.tzinfo is not None else start.replace(tzinfo=UTC)
    anchor = computed_at if computed_at is not None else now
    return anchor - timedelta(weeks=TIMELINE_WEEKS)


def _iso(value: str | datetime) -> str:
    return value.isoformat() if isinstance(value, datetime) else value


def _person(party: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "record_type": party["record_type"],
        "record_id": party["record_id"],
        "name": party["name"],
        "role": party["role"],
    }


def _side(parties: Iterable[Mapping[str, Any]], side: str) -> list[dict[str, Any]]:
    chosen = [p for p in parties if p["side"] == side]
    chosen.sort(key=lambda p: (ROLE_ORDER.get(p["role"], 9), p["name"] or "", p["record_id"]))
    return [_person(p) for p in chosen]


def interaction_entries(
    interactions: Iterable[Mapping[str, Any]], parties: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Interactions newest first, each with our side and the customer's side."""
    by_key: dict[str, list[Mapping[str, Any]]] = {}
    for party in parties:
        by_key.setdefault(party["interaction_key"], []).append(party)
    ordered = sorted(interactions, key=lambda i: (i["occurred_at"], i["key"]), reverse=True)
    return [
        {
            "kind": item["kind"],
            "direction": item["direction"],
            "occurred_at": item["occurred_at"],
            "duration_minutes": item["duration_minutes"],
            "planned": bool(item["planned"]),
            "source": item["source"],
            "our_side": _side(by_key.get(item["key"], []), "internal"),
            "their_side": _side(by_key.get(item["key"], []), "external"),
        }
        for item in ordered
    ]
