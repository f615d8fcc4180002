"""Rows, row versions and the change log that change tracking reads.

Every write takes the next value of one environment-wide version counter (Dataverse's
row version), stamps the row's `versionnumber`, and appends (version, id, deleted) to
its table's change log. A delta token is a version: following it returns what the log
holds above it. `expire_changes` raises a table's floor so older tokens are refused.
Change sets and UpdateMultiple run inside `transaction()`, which undoes every write of
the block when it raises.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from emulator.dataverse.schema import Table, standard_tables


@dataclass
class Row:
    values: dict[str, Any]  # column logical name -> value (lookups: the referenced id)
    lookup_types: dict[str, str] = field(default_factory=dict)  # lookup column -> table


@dataclass(frozen=True)
class Change:
    version: int
    record_id: str
    deleted: bool


@dataclass
class TableData:
    table: Table
    rows: dict[str, Row] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    expired_below: int = 0  # delta tokens for versions below this are refused


@dataclass
class _Undo:
    entity_set: str
    record_id: str
    before: Row | None
    changes_length: int


@functools.lru_cache(maxsize=4)
def _iso_second(second: int) -> str:
    # One strftime per second, not per write: seeding 100k rows spent most time here.
    return dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now_iso(clock: Callable[[], float]) -> str:
    return _iso_second(int(clock()))


class Store:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.tables: dict[str, TableData] = {
            name: TableData(table) for name, table in standard_tables().items()
        }
        self.by_logical = {data.table.logical_name: data for data in self.tables.values()}
        self.version = 1000
        self._undo: list[_Undo] | None = None

    def data(self, entity_set: str) -> TableData | None:
        return self.tables.get(entity_set)

    def logical(self, logical_name: str) -> TableData | None:
        return self.by_logical.get(logical_name)

    def _next_version(self) -> int:
        self.version += 1
        return self.version

    def _remember(self, data: TableData, record_id: str) -> None:
        if self._undo is not None:
            before = data.rows.get(record_id)
            copy = None if before is None else Row(dict(before.values), dict(before.lookup_types))
            self._undo.append(_Undo(data.table.entity_set, record_id, copy, len(data.changes)))

    def put(self, data: TableData, record_id: str, row: Row, *, created: bool) -> int:
        """Store `row` (complete) as the new state of `record_id`; returns its version."""
        self._remember(data, record_id)
        version = self._next_version()
        stamp = _now_iso(self.clock)
        row.values["versionnumber"] = version
        row.values["modifiedon"] = stamp
        if created:
            row.values.setdefault("createdon", stamp)
        data.rows[record_id] = row
        data.changes.append(Change(version, record_id, False))
        return version

    def delete(self, data: TableData, record_id: str) -> None:
        self._remember(data, record_id)
        del data.rows[record_id]
        data.changes.append(Change(self._next_version(), record_id, True))

    def expire_changes(self, data: TableData) -> None:
        """Refuse every delta token issued so far for this table (full sync needed)."""
        data.expired_below = self._next_version()  # a baseline taken from now on is valid

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes in the block, or none of them when it raises."""
        if self._undo is not None:  # nested: the outer block decides
            yield
            return
        self._undo = []
        try:
            yield
        except BaseException:
            self._rollback(self._undo)
            raise
        finally:
            self._undo = None

    def _rollback(self, undo: list[_Undo]) -> None:
        for entry in reversed(undo):
            data = self.tables[entry.entity_set]
            del data.changes[entry.changes_length :]
            if entry.before is None:
                data.rows.pop(entry.record_id, None)
            else:
                data.rows[entry.record_id] = entry.before
