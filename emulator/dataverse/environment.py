"""The Dataverse fixture: the environment, its application users and privileges, and rows.

```json
{"environment": {"organizationId": "guid", "businessUnitId": "guid", "urlName": "contoso"},
 "applicationUsers": [{"applicationId": "client id", "systemuserid": "guid",
                       "fullname": "# Rapport", "privileges": {"*": ["read", "write"],
                       "customize": true}}],
 "tables": {"contacts": [{"contactid": "guid", "fullname": "...",
                          "_parentcustomerid_value": "guid",
                          "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname":
                              "account"}]}}
```

Rows are written in the shape the Web API returns them. Privileges map a table's logical
name (or `*`, for tables not named) to `read` and/or `write`; `customize` allows creating
columns.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.dataverse.rows import LOOKUP_LOGICAL_NAME
from emulator.dataverse.schema import Column
from emulator.dataverse.store import Row, Store, TableData
from emulator.dataverse.writes import _checked_value
from emulator.fixture import FixtureError, read_json_object

ALL_TABLES = "*"


@dataclass
class ApplicationUser:
    application_id: str
    systemuserid: str
    fullname: str
    privileges: dict[str, set[str]]  # logical name or "*" -> {"read", "write"}
    customize: bool = False
    disabled: bool = False

    def allows(self, logical_name: str, access: str) -> bool:
        # A table's own entry overrides "*", so a test can take one privilege away.
        granted = self.privileges.get(logical_name, self.privileges.get(ALL_TABLES, set()))
        return access in granted


@dataclass
class Environment:
    organization_id: str
    business_unit_id: str
    url_name: str
    application_users: dict[str, ApplicationUser] = field(default_factory=dict)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def parse_privileges(raw: Any, where: str) -> tuple[dict[str, set[str]], bool]:
    if not isinstance(raw, dict):
        raise FixtureError(f"{where} must be an object of table -> [read, write]")
    customize = bool(raw.get("customize", False))
    privileges: dict[str, set[str]] = {}
    for table, accesses in raw.items():
        if table == "customize":
            continue
        if not isinstance(accesses, list) or not set(accesses) <= {"read", "write"}:
            raise FixtureError(f"{where}.{table} must be a list of 'read' and 'write'")
        privileges[table] = set(accesses)
    return privileges, customize


def _application_user(raw: dict[str, Any], i: int) -> ApplicationUser:
    where = f"applicationUsers[{i}]"
    if "applicationId" not in raw:
        raise FixtureError(f"{where}.applicationId is required")
    app_id = str(raw["applicationId"])
    privileges, customize = parse_privileges(
        raw.get("privileges", {ALL_TABLES: ["read", "write"], "customize": True}),
        f"{where}.privileges",
    )
    return ApplicationUser(
        application_id=app_id,
        systemuserid=str(raw.get("systemuserid") or uuid.uuid5(uuid.NAMESPACE_URL, app_id)),
        fullname=str(raw.get("fullname", "# Rapport")),
        privileges=privileges,
        customize=customize,
        disabled=bool(raw.get("isdisabled", False)),
    )


def load_environment_dict(raw: dict[str, Any]) -> Environment:
    env = raw.get("environment", {})
    if not isinstance(env, dict):
        raise FixtureError("environment must be an object")
    users = [_application_user(u, i) for i, u in enumerate(raw.get("applicationUsers", []))]
    tables = raw.get("tables", {})
    if not isinstance(tables, dict):
        raise FixtureError("tables must be an object of entity set -> rows")
    return Environment(
        organization_id=str(env.get("organizationId", "3f9c1d2e-0000-4000-8000-0000000d0a7a")),
        business_unit_id=str(env.get("businessUnitId", "5b7e2a10-0000-4000-8000-0000000b0b01")),
        url_name=str(env.get("urlName", "contoso")),
        application_users={u.application_id: u for u in users},
        rows={str(k): list(v) for k, v in tables.items()},
    )


def load_environment(path: Path) -> Environment:
    return load_environment_dict(read_json_object(path, "the Dataverse fixture"))


def wire_row(data: TableData, raw: dict[str, Any], where: str) -> Row:
    """A stored row from its Web API shape (lookups as `_x_value` + lookuplogicalname)."""
    table = data.table
    row = Row({})
    for key, value in raw.items():
        if "@" in key:
            continue
        column = table.column_for_property(key)
        if column is None:
            raise FixtureError(f"{where}.{key}: no such column on {table.logical_name}")
        if column.kind == "lookup":
            _lookup(row, column, raw, key, value, where)
            continue
        try:
            row.values[column.name] = _checked_value(table, column, value)
        except Exception as exc:  # DataverseError: name the fixture field instead
            raise FixtureError(f"{where}.{key}: {exc}") from exc
    if table.primary_id not in row.values:
        raise FixtureError(f"{where}.{table.primary_id} is required")
    row.values[table.primary_id] = str(row.values[table.primary_id]).lower()
    return row


def _lookup(
    row: Row, column: Column, raw: dict[str, Any], key: str, value: Any, where: str
) -> None:
    if value is None:
        row.values[column.name] = None
        return
    target = raw.get(f"{key}@{LOOKUP_LOGICAL_NAME}") or (
        column.targets[0] if len(column.targets) == 1 else None
    )
    if target not in column.targets:
        raise FixtureError(
            f"{where}.{key}@{LOOKUP_LOGICAL_NAME} must name one of {list(column.targets)}"
        )
    row.values[column.name] = str(value).lower()
    row.lookup_types[column.name] = str(target)


def seed(store: Store, environment: Environment) -> None:
    """Load the fixture's rows and a systemuser row for each application user."""
    users = store.tables["systemusers"]
    for user in environment.application_users.values():
        row = Row(
            {
                "systemuserid": user.systemuserid,
                "fullname": user.fullname,
                "applicationid": user.application_id.lower(),
                "isdisabled": user.disabled,
                "businessunitid": environment.business_unit_id,
            },
            {"businessunitid": "businessunit"},
        )
        store.put(users, user.systemuserid, row, created=True)
    for entity_set, rows in environment.rows.items():
        data = store.data(entity_set)
        if data is None:
            raise FixtureError(f"tables.{entity_set}: no such table (entity set)")
        for i, raw in enumerate(rows):
            row = wire_row(data, raw, f"tables.{entity_set}[{i}]")
            store.put(data, row.values[data.table.primary_id], row, created=True)
