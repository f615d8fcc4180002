"""Create, update, upsert, delete, CreateMultiple and UpdateMultiple, and the write log.

A payload is checked against the table's columns before anything is stored: an unknown
property (including a column the provisioner has not created yet) is Dataverse's
"property does not exist" error; lookups are written with `nav@odata.bind`. Every
successful write is appended to the write log with the columns it set, which is how
tests prove a push touched only the columns it owns.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator.dataverse.errors import (
    DUPLICATE_RECORD,
    DataverseError,
    bad_request,
    record_not_found,
    undeclared_property,
    unknown_property,
)
from emulator.dataverse.odata import normalise_datetime
from emulator.dataverse.schema import Column, Table
from emulator.dataverse.store import Row, Store, TableData

# "/accounts(id)", "accounts(id)" or the entity's absolute URL
_BIND = re.compile(r"(?:^|/)(?P<set>[A-Za-z_]+)\((?P<id>[0-9a-fA-F-]{36})\)$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


@dataclass
class WriteEntry:
    sequence: int
    operation: str  # create, update, upsert, delete, CreateMultiple, UpdateMultiple
    table: str  # entity set
    record_id: str
    columns: list[str]
    values: dict[str, Any]
    in_batch: bool
    rolled_back: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "operation": self.operation,
            "table": self.table,
            "id": self.record_id,
            "columns": self.columns,
            "values": self.values,
            "inBatch": self.in_batch,
            "rolledBack": self.rolled_back,
        }


@dataclass
class WriteLog:
    entries: list[WriteEntry] = field(default_factory=list)
    _sequence: int = 0

    def add(
        self,
        operation: str,
        table: str,
        record_id: str,
        changes: Mapping[str, Any],
        *,
        in_batch: bool,
    ) -> None:
        self._sequence += 1
        self.entries.append(
            WriteEntry(
                self._sequence,
                operation,
                table,
                record_id,
                sorted(changes),
                dict(changes),
                in_batch,
            )
        )

    def mark_rolled_back(self, since: int) -> None:
        for entry in self.entries[since:]:
            entry.rolled_back = True


@dataclass
class Changes:
    """A checked payload: plain column values and lookups (column -> (table, id))."""

    values: dict[str, Any] = field(default_factory=dict)
    lookups: dict[str, tuple[str, str] | None] = field(default_factory=dict)

    def names(self) -> dict[str, Any]:
        shown: dict[str, Any] = dict(self.values)
        for column, target in self.lookups.items():
            shown[column] = None if target is None else target[1]
        return shown


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# column kind -> does a JSON value fit it (only the one check runs per value)
_FITS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": _is_int,
    "picklist": _is_int,
    "decimal": _is_number,
    "money": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "datetime": lambda v: isinstance(v, str),
    "guid": lambda v: isinstance(v, str) and bool(_GUID.match(v)),
}


def _checked_value(table: Table, column: Column, value: Any) -> Any:
    if value is None:
        return None
    kind = column.kind
    fits = _FITS.get(kind)
    if fits is None or not fits(value):
        raise bad_request(
            f"Cannot convert the literal '{value}' to the expected type of "
            f"'{column.name}' ({kind}) on 'Microsoft.Dynamics.CRM.{table.logical_name}'."
        )
    if kind == "datetime":
        try:
            return normalise_datetime(value)
        except ValueError as exc:
            raise bad_request(f"Cannot convert '{value}' to Edm.DateTimeOffset.") from exc
    if kind == "guid":
        return value.lower()
    return value


def _bind(store: Store, table: Table, key: str, value: Any) -> tuple[str, tuple[str, str] | None]:
    navigation = key[: -len("@odata.bind")]
    declared = table.navigation_target(navigation)
    if declared is None:
        raise undeclared_property(table.entity_set, navigation)
    column, target_name = declared
    if value is None:
        return column.name, None
    found = _BIND.search(str(value))
    target = store.data(found.group("set")) if found else None
    if found is None or target is None or target.table.logical_name != target_name:
        raise bad_request(f"The @odata.bind value '{value}' is not a valid {target_name} URI.")
    record_id = found.group("id").lower()
    if record_id not in target.rows:
        raise record_not_found(target_name, record_id)
    return column.name, (target_name, record_id)


def check_payload(store: Store, data: TableData, payload: Any) -> Changes:
    if not isinstance(payload, dict):
        raise bad_request("The request body must be a JSON object.")
    table = data.table
    changes = Changes()
    for key, value in payload.items():
        if key.endswith("@odata.bind"):
            name, target = _bind(store, table, key, value)
            changes.lookups[name] = target
            continue
        if key.startswith("@odata.") or "@" in key:
            continue
        column = table.columns.get(key)
        if column is None or column.kind == "lookup" or column.name in ("versionnumber",):
            raise unknown_property(key, table.logical_name)
        changes.values[column.name] = _checked_value(table, column, value)
    return changes


def _apply(row: Row, changes: Changes) -> None:
    row.values.update(changes.values)
    for column, target in changes.lookups.items():
        if target is None:
            row.values[column] = None
            row.lookup_types.pop(column, None)
        else:
            row.values[column] = target[1]
            row.lookup_types[column] = target[0]


def new_row(data: TableData, record_id: str, changes: Changes, owner_id: str | None) -> Row:
    table = data.table
    row = Row({table.primary_id: record_id})
    if "statecode" in table.columns:
        row.values["statecode"] = 0
    if owner_id is not None and "ownerid" in table.columns:
        row.values["ownerid"] = owner_id
        row.lookup_types["ownerid"] = "systemuser"
    _apply(row, changes)
    row.values[table.primary_id] = record_id
    return row


@dataclass
class Writer:
    store: Store
    log: WriteLog
    owner_id: str | None  # the caller's systemuserid, owner of what it creates
    in_batch: bool = False

    def create(self, data: TableData, payload: Any, operation: str = "create") -> str:
        changes = check_payload(self.store, data, payload)
        record_id = str(changes.values.get(data.table.primary_id) or uuid.uuid4())
        if record_id in data.rows:
            raise DataverseError(
                412, DUPLICATE_RECORD, "A record with matching key values already exists."
            )
        row = new_row(data, record_id, changes, self.owner_id)
        self.store.put(data, record_id, row, created=True)
        self.log.add(
            operation, data.table.entity_set, record_id, changes.names(), in_batch=self.in_batch
        )
        return record_id

    def update(
        self,
        data: TableData,
        record_id: str,
        payload: Any,
        *,
        must_exist: bool,
        operation: str = "update",
    ) -> bool:
        """PATCH: update, or create when absent and `must_exist` is false; True if created."""
        record_id = record_id.lower()
        changes = check_payload(self.store, data, payload)
        given = changes.values.pop(data.table.primary_id, None)
        if given is not None and given != record_id:
            raise bad_request("The primary key in the body does not match the URL.")
        existing = data.rows.get(record_id)
        if existing is None:
            if must_exist:
                raise record_not_found(data.table.logical_name, record_id)
            row = new_row(data, record_id, changes, self.owner_id)
            self.store.put(data, record_id, row, created=True)
            self.log.add(
                "upsert", data.table.entity_set, record_id, changes.names(), in_batch=self.in_batch
            )
            return True
        row = Row(dict(existing.values), dict(existing.lookup_types))
        _apply(row, changes)
        self.store.put(data, record_id, row, created=False)
        self.log.add(
            operation, data.table.entity_set, record_id, changes.names(), in_batch=self.in_batch
        )
        return False

    def delete(self, data: TableData, record_id: str) -> None:
        record_id = record_id.lower()
        if record_id not in data.rows:
            raise record_not_found(data.table.logical_name, record_id)
        self.store.delete(data, record_id)
        self.log.add("delete", data.table.entity_set, record_id, {}, in_batch=self.in_batch)

    def _targets(self, data: TableData, payload: Any) -> list[dict[str, Any]]:
        targets = payload.get("Targets") if isinstance(payload, dict) else None
        if not isinstance(targets, list) or not targets:
            raise bad_request("The 'Targets' parameter must be a non-empty array of entities.")
        expected = f"Microsoft.Dynamics.CRM.{data.table.logical_name}"
        for target in targets:
            if not isinstance(target, dict):
                raise bad_request("Each item of 'Targets' must be an entity object.")
            if str(target.get("@odata.type", "")).lstrip("#") != expected:
                raise bad_request(
                    f'Each item of \'Targets\' must have "@odata.type": "{expected}".'
                )
        return targets

    def update_multiple(self, data: TableData, payload: Any) -> None:
        """All targets or none (UpdateMultiple is one transaction)."""
        targets = self._targets(data, payload)
        start = len(self.log.entries)
        try:
            with self.store.transaction():
                for target in targets:
                    record_id = target.get(data.table.primary_id)
                    if not isinstance(record_id, str):
                        raise bad_request(
                            f"Each target must carry its primary key '{data.table.primary_id}'."
                        )
                    self.update(
                        data, record_id, target, must_exist=True, operation="UpdateMultiple"
                    )
        except DataverseError:
            self.log.mark_rolled_back(start)
            raise

    def create_multiple(self, data: TableData, payload: Any) -> list[str]:
        targets = self._targets(data, payload)
        start = len(self.log.entries)
        try:
            with self.store.transaction():
                return [self.create(data, t, "CreateMultiple") for t in targets]
        except DataverseError:
            self.log.mark_rolled_back(start)
            raise
