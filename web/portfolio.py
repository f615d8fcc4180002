"""The portfolio: open records by relationship, filtered and sorted from the query string.

The filters are the `rapport health list` ones (docs/insights.md), read from a URL
instead of options; the rows are insights.views' shaped rows. "At risk first" keeps
the chosen order within the at-risk records and within the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session

from insights import views
from insights.notice import EMPLOYMENT_NOTICE
from storage import insights_read
from web.visibility import Visibility

MAX_LIMIT = 10_000


class BadFilter(ValueError):
    """A query-string value that is not allowed; the message names the parameter."""


GRADE_CHOICES, TREND_CHOICES = views.STATE_CHOICES, views.TREND_CHOICES


def _picked(name: str, raw: str | None, choices: dict[str, int]) -> frozenset[int] | None:
    if raw is None or not raw.strip():
        return None
    picked = set()
    for part in (piece.strip().lower() for piece in raw.split(",") if piece.strip()):
        if part not in choices:
            raise BadFilter(
                f"{name}: {part!r} is not allowed; expected one or more of "
                f"{', '.join(choices)} (comma-separated)"
            )
        picked.add(choices[part])
    return frozenset(picked)


@dataclass(frozen=True, slots=True)
class PortfolioQuery:
    """What the portfolio shows: types, one owner (None: every visible one), the view."""

    record_types: tuple[str, ...]
    owner: str | None
    view: views.ViewFilter
    at_risk_first: bool = True
    open_only: bool = True
    closes_by: date | None = None  # deals with an estimated close date on or before it


def _day(name: str, raw: str | None) -> date | None:
    if raw is None or not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise BadFilter(f"{name}: {raw!r} is not allowed; expected a date, YYYY-MM-DD") from None


def parse_query(params: Mapping[str, str]) -> PortfolioQuery:
    """type, owner, grade, trend, at_risk, at_risk_first, closed, closes_by, sort, limit."""
    record_type = params.get("type") or None
    if record_type is not None and record_type not in views.RECORD_TYPES:
        raise BadFilter(
            f"type: {record_type!r} is not allowed; expected one of {', '.join(views.RECORD_TYPES)}"
        )
    sort = params.get("sort") or views.SortKey.health.value
    if sort not in {key.value for key in views.SortKey}:
        allowed = ", ".join(key.value for key in views.SortKey)
        raise BadFilter(f"sort: {sort!r} is not allowed; expected one of {allowed}")
    return PortfolioQuery(
        record_types=views.RECORD_TYPES if record_type is None else (record_type,),
        owner=(params.get("owner") or "").strip() or None,
        view=views.ViewFilter(
            states=_picked("grade", params.get("grade"), GRADE_CHOICES),
            trends=_picked("trend", params.get("trend"), TREND_CHOICES),
            at_risk=_flag("at_risk", params.get("at_risk")),
            sort=views.SortKey(sort),
            limit=_limit(params.get("limit")),
        ),
        at_risk_first=_flag("at_risk_first", params.get("at_risk_first", "1")),
        open_only=not _flag("closed", params.get("closed")),
        closes_by=_day("closes_by", params.get("closes_by")),
    )


def _flag(name: str, raw: str | None) -> bool:
    if raw is None or raw == "":
        return False
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise BadFilter(f"{name}: {raw!r} is not allowed; expected 1 or 0")


def _limit(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return 200
    if not raw.isdigit() or int(raw) > MAX_LIMIT:
        raise BadFilter(f"limit: {raw!r} is not allowed; expected 0 (no limit) to {MAX_LIMIT}")
    return int(raw) or None


def owner_id_of(session: Session, owner: str | None) -> str | None:
    if owner is None:
        return None
    found = insights_read.find_user(session=session, user=owner)
    if found is None:
        raise BadFilter(f"owner: no system user has the id or address {owner!r}")
    return found[0]


def _closes_by(row: Mapping[str, Any], last_day: date | None) -> bool:
    """Without a bound, every row; with one, deals closing by then (others have no date)."""
    if last_day is None:
        return True
    close = row.get("estimated_close_date")
    return close is not None and close <= last_day


def _at_risk_first(rows: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    # A stable sort: the chosen order holds within each group.
    return sorted(rows, key=lambda r: not views.is_at_risk(r["health_state"], r["health_trend"]))


def portfolio(session: Session, query: PortfolioQuery, seen: Visibility) -> dict[str, Any]:
    """The payload the page, the JSON and the CSV are made from (visible records only)."""
    owner_id = owner_id_of(session, query.owner)
    candidates: list[dict[str, Any]] = []
    for record_type in query.record_types:
        candidates += insights_read.view_rows(
            session=session,
            record_type=record_type,
            owner_id=owner_id,
            owner_ids=seen.owners,
            open_only=query.open_only,
            states=query.view.store_states(),
        )
    candidates = [row for row in candidates if _closes_by(row, query.closes_by)]
    unlimited = views.ViewFilter(
        query.view.states, query.view.trends, query.view.at_risk, query.view.sort, None
    )
    selection = views.select(candidates, unlimited)
    ordered = _at_risk_first(selection.rows) if query.at_risk_first else selection.rows
    shown = ordered if query.view.limit is None else ordered[: query.view.limit]
    return {
        "notice": EMPLOYMENT_NOTICE,
        "record_types": list(query.record_types),
        "owner_id": owner_id,
        "open_only": query.open_only,
        "sort": query.view.sort.value,
        "at_risk_first": query.at_risk_first,
        "closes_by": query.closes_by,
        "limit": query.view.limit,
        "matched": selection.matched,
        "rows": _shaped(session, shown),
    }


def _shaped(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    details = insights_read.rows_details(session=session, rows=rows, weakest=False)
    return [
        views.shape_row(row, details.get((row["record_type"], row["record_id"]))) for row in rows
    ]


# A cell a spreadsheet would run as a formula starts with one of these (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defused(value: Any) -> Any:
    """A text cell a spreadsheet would take for a formula, prefixed with ' (shown as
    text); numbers, dates and other text unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def as_csv(payload: Mapping[str, Any]) -> str:
    """The CSV download: `rapport health list --csv`'s columns (insights.views.rows_csv),
    with text that would run as a formula in a spreadsheet (a CRM name such as
    `=HYPERLINK(...)`) defused."""
    rows = [{name: defused(value) for name, value in row.items()} for row in payload["rows"]]
    return views.rows_csv(rows)
