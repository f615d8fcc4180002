"""`/users/{id}/calendarView/delta`: primary-calendar events in a time window."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import msgspec

from emulator import delta, permissions
from emulator.errors import GraphError
from emulator.http import GraphResponse, json_response
from emulator.routing import Context, Router
from emulator.store import Item

_WINDOW_MISSING = (
    "This request requires a time window specified by the query string parameters "
    "StartDateTime and EndDateTime."
)


def _utc_text(raw: str, name: str) -> str:
    """Normalise a query datetime (any offset, 'Z' or naive=UTC) to 'YYYY-MM-DDTHH:MM:SS' UTC."""
    try:
        parsed = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise GraphError(
            400, "ErrorInvalidParameter", f"The value '{raw}' of parameter '{name}' is invalid."
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S")


def _window(query: Any) -> str:
    start, end = query.get("startDateTime"), query.get("endDateTime")
    if not start or not end:
        raise GraphError(400, "ErrorInvalidParameter", _WINDOW_MISSING)
    return f"{_utc_text(start, 'startDateTime')}|{_utc_text(end, 'endDateTime')}"


def _in_window(window: str) -> Callable[[Item], bool]:
    start, end = window.split("|")

    def keep(event: Item) -> bool:
        # Fixture and generated events are stored in UTC, so text comparison orders them.
        try:
            return (
                str(event["start"]["dateTime"])[:19] < end
                and str(event["end"]["dateTime"])[:19] > start
            )
        except (KeyError, TypeError):
            return True  # a deliberately malformed event still reaches the client

    return keep


def _restart_query(window: str) -> dict[str, str]:
    start, end = window.split("|")
    return {"startDateTime": start + "Z", "endDateTime": end + "Z"}


def _project(page: list[Item | msgspec.Raw], basic: bool, malformed: str | None) -> list[Item]:
    # Calendars never use the pre-rendered fast path, so every entry is a dict.
    events = [e for e in page if isinstance(e, dict)]
    withheld = permissions.BASIC_WITHHELD if basic else frozenset()
    out = [
        e if "@removed" in e or not withheld else {k: v for k, v in e.items() if k not in withheld}
        for e in events
    ]
    if malformed and out:
        middle = len(out) // 2
        broken = (
            ("organizer", "not-an-organizer") if malformed == "from" else ("start", "next week")
        )
        out[middle] = {**out[middle], broken[0]: broken[1]}
    return out


async def calendar_view_delta(ctx: Context) -> GraphResponse:
    basic = permissions.require_calendar(ctx.claims.roles)
    mailbox = ctx.state.mailbox(ctx.params["user"])
    key = f"{mailbox.user.id}/calendar"
    query = ctx.request.query
    has_token = bool(query.get("$skiptoken") or query.get("$deltatoken"))
    window = "" if has_token else _window(query)
    state = delta.read_state(ctx.request, mailbox.calendar, key, "", window, _restart_query)
    result = delta.read_page(ctx.request, mailbox.calendar, state, _in_window(state.window))
    body: dict[str, Any] = {
        "@odata.context": f"{ctx.request.base_url}/$metadata#Collection(event)",
        **delta.links(ctx.request, result),
        "value": _project(result.page.items, basic, ctx.malformed),
    }
    return json_response(body, headers=delta.response_headers(result))


def register(router: Router) -> None:
    router.add("GET", "{USER}/calendarView/{DELTA}", "calendar", calendar_view_delta)
    router.add("GET", "{USER}/calendar/calendarView/{DELTA}", "calendar", calendar_view_delta)
