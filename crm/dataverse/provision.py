"""`rapport dataverse provision`: create Rapport's columns, and only those, only once.

The plan compares each column Rapport needs (crm.dataverse.columns) with what the
table's metadata already holds: missing -> create; present with Rapport's type -> keep;
present with another type (someone else's column under our schema name) -> conflict,
reported and left alone. Nothing is ever altered or deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm.dataverse.client import DataverseClient
from crm.dataverse.columns import COLUMNS, TABLES

SOLUTION_HEADER = "MSCRM.SolutionUniqueName"


@dataclass(frozen=True)
class PlannedColumn:
    table: str  # logical name
    schema_name: str
    attribute_type: str
    action: str  # create, keep, conflict
    found_type: str | None = None
    definition: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "table": self.table,
            "column": self.schema_name,
            "type": self.attribute_type,
            "action": self.action,
        }
        if self.found_type is not None:
            shown["found_type"] = self.found_type
        return shown


@dataclass
class Plan:
    columns: list[PlannedColumn]

    def of(self, action: str) -> list[PlannedColumn]:
        return [column for column in self.columns if column.action == action]


async def existing_columns(client: DataverseClient, table: str) -> dict[str, str]:
    """Custom columns of `table`: logical name -> attribute type."""
    reply = await client.get(
        f"EntityDefinitions(LogicalName='{table}')/Attributes",
        params={
            "$select": "LogicalName,SchemaName,AttributeType",
            "$filter": "IsCustomAttribute eq true",
        },
    )
    values = (reply.body or {}).get("value", [])
    return {str(item["LogicalName"]): str(item.get("AttributeType")) for item in values}


async def plan(client: DataverseClient, prefix: str) -> Plan:
    planned: list[PlannedColumn] = []
    for table, _set, _id in TABLES.values():
        found = await existing_columns(client, table)
        for column in COLUMNS:
            present = found.get(column.logical_name(prefix))
            action = (
                "create"
                if present is None
                else "keep"
                if present == column.attribute_type
                else "conflict"
            )
            planned.append(
                PlannedColumn(
                    table,
                    column.schema_name(prefix),
                    column.attribute_type,
                    action,
                    found_type=present if action == "conflict" else None,
                    definition=column.definition(prefix),
                )
            )
    return Plan(planned)


async def apply(client: DataverseClient, planned: Plan, solution: str | None) -> list[str]:
    """Create the planned columns; returns the schema names created, as `table.column`."""
    headers = {SOLUTION_HEADER: solution} if solution else {}
    created = []
    for column in planned.of("create"):
        await client.send(
            "POST",
            f"EntityDefinitions(LogicalName='{column.table}')/Attributes",
            headers=headers,
            body=column.definition,
        )
        created.append(f"{column.table}.{column.schema_name}")
    return created
