"""The relationship pipeline chart's data: open opportunities as bubbles.

x = estimated close date (left = closing soon), y = health score, bubble area
= estimated revenue, colour = health state (REFERENCE.md, "Seller insights"):

- green Good, amber Fair, red Poor (scored deals);
- blue: computation in progress (state 5), whatever its score;
- grey: no computation (not enough info, no closed activities, something went
  wrong, too old, or never scored).

Missing values follow the seed: no health score -> grey, plotted at 0; a close
date in the past (before `now`'s day) or missing -> not shown (counted in
`not_shown`); no revenue (or none above 0) -> the smallest bubble. The most
critical deals are then the large bubbles near the lower left.

Bubbles come largest first, so that a renderer drawing them in order leaves
the small ones on top, visible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from scoring.model import HealthState

# Bubble area in points² (matplotlib's scatter `s`): proportional to revenue
# between these bounds, relative to the largest revenue on the chart.
SMALLEST_AREA, LARGEST_AREA = 40.0, 2400.0
RECORD_URL_PLACEHOLDER = "{id}"
DEFAULT_RECORD_URL = "rapport://opportunity/{id}"


class Colour(StrEnum):
    good = "good"
    fair = "fair"
    poor = "poor"
    pending = "pending"
    none = "none"


# Colour-blind-safe enough at a glance and distinct in a PNG's pixels.
COLOUR_HEX = {
    Colour.good: "#2e7d32",
    Colour.fair: "#f9a825",
    Colour.poor: "#c62828",
    Colour.pending: "#1e88e5",
    Colour.none: "#9e9e9e",
}
COLOUR_LABEL = {
    Colour.good: "Good",
    Colour.fair: "Fair",
    Colour.poor: "Poor",
    Colour.pending: "Pending computation",
    Colour.none: "No computation",
}
GRADED = {
    HealthState.GOOD: Colour.good,
    HealthState.FAIR: Colour.fair,
    HealthState.POOR: Colour.poor,
}


@dataclass(frozen=True, slots=True)
class Bubble:
    opportunity_id: str
    name: str
    close_date: date
    health_score: int
    scored: bool
    colour: Colour
    revenue: float
    area: float
    first_reason: str | None
    link: str

    def as_json(self) -> dict[str, Any]:
        return {
            "opportunity_id": self.opportunity_id,
            "name": self.name,
            "x_close_date": self.close_date.isoformat(),
            "y_health_score": self.health_score,
            "scored": self.scored,
            "colour": self.colour.value,
            "colour_hex": COLOUR_HEX[self.colour],
            "revenue": self.revenue,
            "area": self.area,
            "first_reason": self.first_reason,
            "link": self.link,
        }


@dataclass(frozen=True, slots=True)
class ChartData:
    bubbles: tuple[Bubble, ...]
    not_shown: dict[str, int]
    as_of: date

    def as_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "bubbles": [bubble.as_json() for bubble in self.bubbles],
            "not_shown": self.not_shown,
        }


def colour_of(state: int | None, score: int | None) -> Colour:
    """Blue while computing; green/amber/red for a scored Good/Fair/Poor; grey otherwise."""
    if state == HealthState.COMPUTATION_IN_PROGRESS:
        return Colour.pending
    if score is None or state is None:
        return Colour.none
    return GRADED.get(HealthState(state), Colour.none)


def area_of(revenue: float | None, largest: float) -> float:
    """Bubble area for a revenue: SMALLEST_AREA for none, LARGEST_AREA for the largest."""
    if revenue is None or revenue <= 0 or largest <= 0:
        return SMALLEST_AREA
    return round(SMALLEST_AREA + (LARGEST_AREA - SMALLEST_AREA) * revenue / largest, 2)


def record_link(template: str, opportunity_id: str) -> str:
    """The record's URL from the template ({id} replaced; the id URL-quoted)."""
    return template.replace(RECORD_URL_PLACEHOLDER, quote(opportunity_id, safe=""))


def _close_date(value: date | datetime | str | None) -> date | None:
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(value)


def _why_hidden(close: date | None, today: date) -> str | None:
    if close is None:
        return "no_close_date"
    return "close_date_past" if close < today else None


def is_shown(deal: Mapping[str, Any], now: datetime) -> bool:
    """Whether a deal gets a bubble: its close date is today or later."""
    return _why_hidden(_close_date(deal["estimated_close_date"]), now.date()) is None


def chart_data(
    deals: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    record_url: str = DEFAULT_RECORD_URL,
) -> ChartData:
    """Bubbles for open deals, each a mapping with record_id, name, health_score,
    health_state, estimated_revenue, estimated_close_date and first_reason."""
    today = now.date()
    shown: list[Mapping[str, Any]] = []
    not_shown = {"no_close_date": 0, "close_date_past": 0}
    for deal in deals:
        why = _why_hidden(_close_date(deal["estimated_close_date"]), today)
        if why is None:
            shown.append(deal)
        else:
            not_shown[why] += 1
    revenues = [deal["estimated_revenue"] or 0.0 for deal in shown]
    largest = max(revenues, default=0.0)
    bubbles = [_bubble(deal, largest, record_url) for deal in shown]
    bubbles.sort(key=lambda b: (-b.area, b.close_date, b.opportunity_id))
    return ChartData(tuple(bubbles), not_shown, today)


def chart_of(
    deals: Iterable[Mapping[str, Any]],
    details: Mapping[str, Mapping[str, Any]],
    *,
    now: datetime,
    record_url: str = DEFAULT_RECORD_URL,
) -> ChartData:
    """chart_data over deals as the store has them, each with its first stored reason
    (`details` by deal id, as storage.insights_read.view_details reads them)."""
    return chart_data(
        ({**deal, "first_reason": _first_reason(details.get(deal["record_id"]))} for deal in deals),
        now=now,
        record_url=record_url,
    )


def _first_reason(detail: Mapping[str, Any] | None) -> str | None:
    reasons = (detail or {}).get("reasons") or []
    return reasons[0] if reasons else None


def _bubble(deal: Mapping[str, Any], largest: float, record_url: str) -> Bubble:
    score, state = deal["health_score"], deal["health_state"]
    close = _close_date(deal["estimated_close_date"])
    assert close is not None  # hidden otherwise
    revenue = deal["estimated_revenue"]
    return Bubble(
        opportunity_id=deal["record_id"],
        name=deal["name"],
        close_date=close,
        health_score=0 if score is None else int(score),
        scored=score is not None,
        colour=colour_of(state, score),
        revenue=float(revenue or 0.0),
        area=area_of(revenue, largest),
        first_reason=deal.get("first_reason"),
        link=record_link(record_url, deal["record_id"]),
    )


def bubble_title(bubble: Bubble) -> str:
    """What hovering a bubble shows: the deal's name, its grade and first reason."""
    score = f"{bubble.health_score}" if bubble.scored else "no health score"
    reason = f" - {bubble.first_reason}" if bubble.first_reason else ""
    return f"{bubble.name} ({COLOUR_LABEL[bubble.colour]}, {score}){reason}"
