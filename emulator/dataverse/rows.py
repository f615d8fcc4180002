"""How a stored row looks on the wire: properties, lookups as `_x_value`, annotations."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from emulator.dataverse.schema import Column, Table
from emulator.dataverse.store import Row, Store

LOOKUP_LOGICAL_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname"
NAVIGATION_PROPERTY = "Microsoft.Dynamics.CRM.associatednavigationproperty"
FORMATTED_VALUE = "OData.Community.Display.V1.FormattedValue"


def wanted_annotations(prefer: Mapping[str, str]) -> list[str]:
    """Patterns from `Prefer: odata.include-annotations="..."` ("*", names, `ns.*`)."""
    raw = prefer.get("odata.include-annotations", "")
    return [p.strip() for p in raw.strip('"').split(",") if p.strip()]


def _wants(patterns: list[str], annotation: str) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == annotation:
            return True
        if pattern.endswith(".*") and annotation.startswith(pattern[:-1]):
            return True
    return False


class RowView(Mapping[str, Any]):
    """A row read by wire property names without copying it (what $filter and $orderby
    evaluate on every row of a table, so it has to be cheap)."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: Mapping[str, str], row: Row) -> None:
        self._names = names
        self._values = row.values

    def __getitem__(self, key: str) -> Any:
        return self._values[self._names.get(key, key)]

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(self._names.get(key, key), default)

    def __iter__(self) -> Iterator[str]:
        reverse = {column: wire for wire, column in self._names.items()}
        return (reverse.get(name, name) for name in self._values)

    def __len__(self) -> int:
        return len(self._values)


def render(
    store: Store,
    table: Table,
    row: Row,
    select: list[str] | None,
    annotations: list[str],
) -> dict[str, Any]:
    """The row on the wire: every property (or those of `select`, then the primary id)."""
    shown: list[tuple[str, Column | None]]
    if select is None:
        shown = [(column.value_name, column) for column in table.columns.values()]
    else:  # only the selected columns are read: a paged $select renders a few of many
        shown = [(name, table.column_for_property(name)) for name in dict.fromkeys(select)]
        if table.primary_id not in select:
            shown.append((table.primary_id, table.column_for_property(table.primary_id)))
    rendered: dict[str, Any] = {"@odata.etag": f'W/"{row.values.get("versionnumber")}"'}
    for name, column in shown:
        value = None if column is None else row.values.get(column.name)
        rendered[name] = value
        if column is None or column.kind != "lookup" or value is None:
            continue
        target = row.lookup_types.get(column.name, column.targets[0] if column.targets else "")
        if _wants(annotations, FORMATTED_VALUE):
            rendered[f"{name}@{FORMATTED_VALUE}"] = _display_name(store, target, value)
        if _wants(annotations, NAVIGATION_PROPERTY):
            rendered[f"{name}@{NAVIGATION_PROPERTY}"] = column.navigation(target)
        if _wants(annotations, LOOKUP_LOGICAL_NAME):
            rendered[f"{name}@{LOOKUP_LOGICAL_NAME}"] = target
    return rendered


def _display_name(store: Store, logical_name: str, record_id: str) -> str | None:
    data = store.logical(logical_name)
    if data is None:
        return None
    row = data.rows.get(record_id)
    if row is None:
        return None
    name = row.values.get(data.table.primary_name)
    return None if name is None else str(name)
