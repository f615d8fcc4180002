"""GET on a table: query options, paging by `Prefer: odata.maxpagesize`, change tracking.

Pages are cut by key (the sort values and id of the last row served), so rows written
between two pages are neither skipped nor repeated because of a shift. A tracked first
read notes the version at its start; the `@odata.deltaLink` after its last page carries
it, so a change made while paging is served again by the next delta read.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulator.dataverse import odata
from emulator.dataverse.errors import EXPIRED_VERSION_STAMP, DataverseError, bad_request
from emulator.dataverse.http import link
from emulator.dataverse.rows import RowView, render, wanted_annotations
from emulator.dataverse.store import Row, Store, TableData

MAX_PAGE_SIZE = 5000


@dataclass(frozen=True)
class Page:
    body: dict[str, Any]
    applied: list[str]  # for Preference-Applied


def parse_prefer(header: str | None) -> dict[str, str]:
    """`Prefer: odata.maxpagesize=2, odata.track-changes` -> {name: value or ""}."""
    preferences: dict[str, str] = {}
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            preferences[name.strip().lower()] = value.strip()
    return preferences


def page_size(prefer: Mapping[str, str]) -> int:
    raw = prefer.get("odata.maxpagesize")
    if raw is None:
        return MAX_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError as exc:
        raise bad_request(f"Invalid odata.maxpagesize '{raw}'.") from exc
    if size <= 0:
        raise bad_request(f"Invalid odata.maxpagesize '{raw}'.")
    return min(size, MAX_PAGE_SIZE)  # larger requests are served 5,000 at a time


def _encode(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


def _decode(token: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request("The $skiptoken is not valid.") from exc
    if not isinstance(state, dict):
        raise bad_request("The $skiptoken is not valid.")
    return state


def delta_token(version: int, clock_seconds: float) -> str:
    """Dataverse's shape: `{version}!{MM/dd/yyyy HH:mm:ss}` (opaque to clients)."""
    moment = dt.datetime.fromtimestamp(clock_seconds, dt.UTC)
    return f"{version}!{moment:%m/%d/%Y %H:%M:%S}"


def _token_version(token: str) -> int:
    try:
        return int(token.split("!", 1)[0])
    except ValueError as exc:
        raise bad_request(f"The delta token '{token}' is not valid.") from exc


@dataclass
class CollectionQuery:
    store: Store
    data: TableData
    query: Mapping[str, str]
    prefer: Mapping[str, str]
    base_url: str  # ".../api/data/v9.2"

    def _known(self, name: str) -> bool:
        return self.data.table.column_for_property(name) is not None

    def _link(self, **extra: str) -> str:
        params = {k: v for k, v in self.query.items() if k not in ("$skiptoken", "$deltatoken")}
        params.update(extra)
        return link(self.base_url, self.data.table.entity_set, params)

    def _context(self, select: list[str] | None, suffix: str = "") -> str:
        columns = f"({','.join(select)})" if select else ""
        return f"{self.base_url}/$metadata#{self.data.table.entity_set}{columns}{suffix}"

    def run(self) -> Page:
        if "$skip" in self.query:  # as in Dataverse: paging is by link only
            raise bad_request("The query parameter $skip is not supported.")
        if "$expand" in self.query:
            raise bad_request("$expand is not implemented by the loopback Dataverse.")
        select = odata.parse_select(self.query.get("$select"), self._known)
        if "$deltatoken" in self.query:
            return self._delta(select)
        tracking = "odata.track-changes" in self.prefer
        if tracking and ({"$filter", "$orderby", "$top", "$expand"} & set(self.query)):
            raise bad_request(
                "Change tracking does not support $filter, $orderby, $top or $expand."
            )
        return self._rows(select, tracking)

    def _rows(self, select: list[str] | None, tracking: bool) -> Page:
        table = self.data.table
        predicate = (
            odata.parse_filter(self.query["$filter"], self._known)
            if self.query.get("$filter")
            else None
        )
        order = odata.parse_orderby(self.query.get("$orderby"), self._known)
        top = odata.parse_top(self.query.get("$top"))
        state = _decode(self.query["$skiptoken"]) if "$skiptoken" in self.query else {}
        start_version = int(state.get("v", self.store.version))
        tracking = tracking or bool(state.get("t"))  # the round's links carry it
        size = page_size(self.prefer)
        annotations = wanted_annotations(self.prefer)
        after = state.get("k")
        page, more, total = self._page(
            predicate, order, top, after if isinstance(after, list) else None, size
        )
        body: dict[str, Any] = {
            # Tracked reads are delta payloads from the first page (as Microsoft's example).
            "@odata.context": self._context(select, "/$delta" if tracking else ""),
            "value": [render(self.store, table, row, select, annotations) for _, row in page],
        }
        if self.query.get("$count", "").lower() == "true":
            body["@odata.count"] = min(total, MAX_PAGE_SIZE)  # Dataverse counts up to 5,000
        applied = self._applied(size)
        if tracking:
            applied.append("odata.track-changes")
        if more:
            body["@odata.nextLink"] = self._link(
                **{"$skiptoken": _encode({"k": page[-1][0], "v": start_version, "t": tracking})}
            )
        elif tracking:
            body["@odata.deltaLink"] = self._link(
                **{"$deltatoken": delta_token(start_version, self.store.clock())}
            )
        return Page(body, applied)

    def _applied(self, size: int) -> list[str]:
        """The preferences honoured, for `Preference-Applied`."""
        applied = [f"odata.maxpagesize={size}"] if "odata.maxpagesize" in self.prefer else []
        if "odata.include-annotations" in self.prefer:
            applied.append(f"odata.include-annotations={self.prefer['odata.include-annotations']}")
        return applied

    def _page(
        self,
        predicate: odata.Predicate | None,
        order: list[tuple[str, bool]],
        top: int | None,
        after: list[Any] | None,
        size: int,
    ) -> tuple[list[tuple[list[Any], Row]], bool, int]:
        """The next page as (raw key: order values + id, row), whether more follow, and how
        many rows the query matches in all."""
        names = self.data.table.wire_names()
        rows = self.data.rows
        if not order:  # every baseline: ids alone order the rows, no per-row keys to build
            ids = sorted(
                rid
                for rid, row in rows.items()
                if predicate is None or predicate(RowView(names, row))
            )
            if top is not None:
                ids = ids[:top]
            start = bisect.bisect_right(ids, str(after[-1])) if after else 0
            chosen = ids[start : start + size]
            return [([rid], rows[rid]) for rid in chosen], len(ids) - start > size, len(ids)
        candidates = []
        for record_id, row in rows.items():
            view = RowView(names, row)
            if predicate is None or predicate(view):
                raw = [view.get(name) for name, _ in order] + [record_id]
                candidates.append((_key(raw, order), raw, row))
        candidates.sort(key=lambda entry: entry[0])
        if top is not None:
            candidates = candidates[:top]
        total = len(candidates)
        if after is not None:
            boundary = _key(after, order)
            candidates = [c for c in candidates if c[0] > boundary]
        return [(raw, row) for _, raw, row in candidates[:size]], len(candidates) > size, total

    def _delta(self, select: list[str] | None) -> Page:
        table = self.data.table
        since = _token_version(self.query["$deltatoken"])
        if since < self.data.expired_below:
            raise DataverseError(
                400,
                EXPIRED_VERSION_STAMP,
                "Version stamp associated with the client has expired. Please perform a full sync.",
            )
        state = _decode(self.query["$skiptoken"]) if "$skiptoken" in self.query else {}
        end = int(state.get("v", self.store.version))
        position = int(state.get("p", 0))
        latest: dict[str, int] = {}
        for change in self.data.changes:
            if since < change.version <= end:
                latest[change.record_id] = change.version
        ordered = sorted(latest, key=lambda rid: latest[rid])
        size = page_size(self.prefer)
        annotations = wanted_annotations(self.prefer)
        entries: list[dict[str, Any]] = []
        for record_id in ordered[position : position + size]:
            row = self.data.rows.get(record_id)
            if row is None:
                entries.append(
                    {
                        "@odata.context": (
                            f"{self.base_url}/$metadata#{table.entity_set}/$deletedEntity"
                        ),
                        "id": record_id,
                        "reason": "deleted",
                    }
                )
            else:
                entries.append(render(self.store, table, row, select, annotations))
        body: dict[str, Any] = {
            "@odata.context": self._context(select, "/$delta"),
            "value": entries,
        }
        if position + size < len(ordered):
            body["@odata.nextLink"] = self._link(
                **{
                    "$deltatoken": self.query["$deltatoken"],
                    "$skiptoken": _encode({"v": end, "p": position + size}),
                }
            )
        else:
            body["@odata.deltaLink"] = self._link(
                **{"$deltatoken": delta_token(end, self.store.clock())}
            )
        applied = self._applied(size)
        return Page(body, applied + ["odata.track-changes"])


def _key(raw: list[Any], order: list[tuple[str, bool]]) -> tuple[Any, ...]:
    """Sort key of a row from its $orderby values and, last, its id (raw = values + [id])."""
    parts: list[Any] = []
    for value, (_, descending) in zip(raw, order, strict=False):
        rank, comparable = odata.sort_key(value)
        parts.append(_Reversed((rank, comparable)) if descending else (rank, comparable))
    parts.append((0, str(raw[-1])))
    return tuple(parts)


class _Reversed:
    """Wraps a sort value so that ascending order sorts it descending."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return bool(self.value > other.value)

    def __gt__(self, other: _Reversed) -> bool:
        return bool(self.value < other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and bool(self.value == other.value)

    def __hash__(self) -> int:
        return hash(self.value)
