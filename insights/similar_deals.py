"""Similar won deals: the won opportunities most like an open one, and how it compares.

A won deal keeps its KPIs and health as at close (storage.writeback.record_closes),
so it can be set beside an open deal at the same age. Likeness is a distance
made of parts a seller can read, each from 0 (alike) to 1 (as different as it
gets), summed:

- ``revenue``: the estimated revenues' distance in decades (10x apart = 1);
  unknown on either side = 1;
- ``account_size``: the accounts' contact counts, in doublings / 3 (8x apart = 1);
- ``stakeholders``: the difference in stakeholders on the deal / 5;
- ``roles``: the difference in distinct stakeholder roles / 3;
- ``cycle``: 0 when the won deal was still open at the open deal's age, else
  the share of that age it was already closed by (a deal won in 10 days says
  little about one open for 90);
- ``team``: 0 for the same owner's team, 1 otherwise (or unknown).

A won deal is similar when its distance is at most :data:`MAX_DISTANCE`. When
fewer than :data:`MIN_SIMILAR` are, the top :data:`FALLBACK_SIZE` won deals
(largest revenue first, then the most recent close) stand in, and the result
says so.

The comparison counts each KPI (emails sent and received, meetings, phone
calls) in the same window of each deal's life, from its creation: days
``[from_day, to_day)`` where ``to_day`` is the open deal's age and the window
spans at most the 13 weeks a KPI timeline keeps. A won deal whose stored
weeks do not reach back to the window's start is left out of the comparison.
For each KPI the bands are the similar deals' 25th-75th percentiles (nearest
rank); a KPI lags when the open deal is below the 25th, and lags the most
where its shortfall from the median is largest relative to that median.

Pure: plain values in and out; `today` is an argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final

MAX_DISTANCE: Final = 2.0
MIN_SIMILAR: Final = 3
MAX_SHOWN: Final = 10
FALLBACK_SIZE: Final = 100
TIMELINE_DAYS: Final = 13 * 7
KPI_FIELDS: Final = ("emails_sent", "emails_received", "meetings", "phone_calls")
KPI_WORDS: Final = {
    "emails_sent": "emails sent",
    "emails_received": "emails received",
    "meetings": "meetings",
    "phone_calls": "phone calls",
}


@dataclass(frozen=True, slots=True)
class Deal:
    """An opportunity's features as read from the store."""

    id: str
    name: str
    created_on: date | None
    revenue: float | None = None
    account_contacts: int = 0
    stakeholders: int = 0
    roles: int = 0
    team: str | None = None
    closed_on: date | None = None  # won deals: the close day
    health_score: int | None = None  # won deals: as at close
    weekly: Sequence[Mapping[str, Any]] = field(default_factory=tuple)

    @classmethod
    def from_row(cls, found: Mapping[str, Any]) -> Deal:
        """A row of storage.similar_deals_read (an open deal, or a won one with its close)."""
        return cls(
            id=found["id"],
            name=found["name"],
            created_on=found["created_on"],
            revenue=found["estimated_revenue"],
            account_contacts=int(found["account_contacts"]),
            stakeholders=int(found["stakeholders"]),
            roles=int(found["roles"]),
            team=found["team"],
            closed_on=found["closed_on"] if found["status"] == "won" else None,
            health_score=found["health_score"],
            weekly=found["weekly"],
        )

    def age_on(self, today: date) -> int | None:
        """Days since creation: to `today` for an open deal, to the close for a won one."""
        if self.created_on is None:
            return None
        end = self.closed_on if self.closed_on is not None else today
        return max(0, (end - self.created_on).days)


def distance_parts(open_deal: Deal, won: Deal, age: int | None) -> dict[str, float]:
    """Each part of the distance between an open deal (at `age` days) and a won one."""
    return {
        "revenue": _revenue_part(open_deal.revenue, won.revenue),
        "account_size": min(
            1.0,
            abs(math.log2(open_deal.account_contacts + 1) - math.log2(won.account_contacts + 1))
            / 3,
        ),
        "stakeholders": min(1.0, abs(open_deal.stakeholders - won.stakeholders) / 5),
        "roles": min(1.0, abs(open_deal.roles - won.roles) / 3),
        "cycle": _cycle_part(age, None if won.closed_on is None else won.age_on(won.closed_on)),
        "team": 0.0 if open_deal.team is not None and open_deal.team == won.team else 1.0,
    }


def _revenue_part(mine: float | None, theirs: float | None) -> float:
    if mine is None or theirs is None or mine < 0 or theirs < 0:
        return 1.0
    return min(1.0, abs(math.log10(mine + 1) - math.log10(theirs + 1)))


def _cycle_part(age: int | None, won_cycle: int | None) -> float:
    if age is None or won_cycle is None:
        return 1.0
    if won_cycle >= age or age == 0:
        return 0.0
    return (age - won_cycle) / age


@dataclass(frozen=True, slots=True)
class Match:
    deal: Deal
    parts: dict[str, float]

    @property
    def distance(self) -> float:
        return round(math.fsum(self.parts.values()), 3)


@dataclass(frozen=True, slots=True)
class Similar:
    matches: list[Match]  # the deals compared with, nearest (or, in fallback, largest) first
    fallback: bool
    similar_found: int  # won deals within MAX_DISTANCE


def find_similar(open_deal: Deal, won: Iterable[Deal], today: date) -> Similar:
    """The won deals most like `open_deal`, or the top won deals when too few are."""
    age = open_deal.age_on(today)
    candidates = [
        Match(deal, distance_parts(open_deal, deal, age)) for deal in won if deal.id != open_deal.id
    ]
    near = sorted(
        (m for m in candidates if m.distance <= MAX_DISTANCE), key=lambda m: (m.distance, m.deal.id)
    )
    if len(near) >= MIN_SIMILAR:
        return Similar(near, fallback=False, similar_found=len(near))
    top = sorted(
        candidates,
        key=lambda m: (
            -(m.deal.revenue or 0.0),
            -(m.deal.closed_on or date.min).toordinal(),
            m.deal.id,
        ),
    )
    return Similar(top[:FALLBACK_SIZE], fallback=True, similar_found=len(near))


def window(age: int) -> tuple[int, int]:
    """Days [from, to) of a deal's life compared: up to its age, at most 13 weeks."""
    return max(0, age - TIMELINE_DAYS), age


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def counts_in_window(deal: Deal, days: tuple[int, int]) -> dict[str, int] | None:
    """A deal's KPI counts in days [from, to) after its creation, by whole weeks;
    None when its stored weeks do not reach back to the window's start."""
    if deal.created_on is None or not deal.weekly:
        return None
    start = _monday(deal.created_on + timedelta(days=days[0]))
    end = deal.created_on + timedelta(days=days[1])
    weeks = [(date.fromisoformat(str(w["week_start"])[:10]), w) for w in deal.weekly]
    if min(day for day, _ in weeks) > start:
        return None
    chosen = [w for day, w in weeks if start <= day < end]
    return {kpi: sum(int(w.get(kpi, 0)) for w in chosen) for kpi in KPI_FIELDS}


def nearest_rank(values: Sequence[int], share: float) -> int:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def compare(open_deal: Deal, matches: Sequence[Match], today: date) -> dict[str, Any]:
    """The open deal's KPIs beside the matched won deals' at the same age."""
    age = open_deal.age_on(today)
    if age is None:
        return {"window_days": None, "deals_compared": 0, "kpis": [], "lagging_most": []}
    days = window(age)
    mine = counts_in_window(open_deal, days)
    theirs = [c for c in (counts_in_window(m.deal, days) for m in matches) if c is not None]
    kpis = []
    for kpi in KPI_FIELDS:
        values = [c[kpi] for c in theirs]
        yours = None if mine is None else mine[kpi]
        kpis.append(_band(kpi, yours, values))
    lagging = sorted((k for k in kpis if k["lagging"]), key=lambda k: (-k["shortfall"], k["kpi"]))
    return {
        "window_days": list(days),
        "deals_compared": len(theirs),
        "kpis": kpis,
        "lagging_most": [k["kpi"] for k in lagging],
    }


def _band(kpi: str, yours: int | None, values: Sequence[int]) -> dict[str, Any]:
    if not values:
        return {
            "kpi": kpi,
            "yours": yours,
            "p25": None,
            "median": None,
            "p75": None,
            "lagging": False,
            "shortfall": 0.0,
        }
    p25, median, p75 = (nearest_rank(values, s) for s in (0.25, 0.5, 0.75))
    lagging = yours is not None and yours < p25
    shortfall = 0.0 if yours is None else max(0.0, (median - yours) / max(median, 1))
    return {
        "kpi": kpi,
        "yours": yours,
        "p25": p25,
        "median": median,
        "p75": p75,
        "lagging": lagging,
        "shortfall": round(shortfall, 3),
    }


def sentence(kpi: Mapping[str, Any], to_day: int) -> str:
    """ "you have had 2 meetings by day 40; similar won deals had 4-7"."""
    word = KPI_WORDS[kpi["kpi"]]
    band = kpi["p25"] if kpi["p25"] == kpi["p75"] else f"{kpi['p25']}-{kpi['p75']}"
    return f"you have had {kpi['yours']} {word} by day {to_day}; similar won deals had {band}"


def shown(
    open_deal: Deal,
    result: Similar,
    today: date,
    extra: Callable[[Match], Mapping[str, Any]] = lambda _match: {},
) -> dict[str, Any]:
    """What the record page and `rapport deals similar` both show of a search: the
    verdict, the first MAX_SHOWN won deals (each with the caller's `extra` fields of its
    match) and the KPI comparison with all the matches."""
    return {
        "minimum_similar": MIN_SIMILAR,
        "similar_found": result.similar_found,
        "fallback": result.fallback,
        "compared_with": len(result.matches),
        "deals": [
            {
                "id": m.deal.id,
                "name": m.deal.name,
                "distance": m.distance,
                "cycle_days": m.deal.age_on(today),
                "closed_on": m.deal.closed_on,
                "health_at_close": m.deal.health_score,
                **extra(m),
            }
            for m in result.matches[:MAX_SHOWN]
        ],
        "comparison": compare(open_deal, result.matches, today),
    }
