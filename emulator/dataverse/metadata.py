"""The metadata Web API a provisioner uses: EntityDefinitions and their Attributes.

Columns created with `POST EntityDefinitions(LogicalName='contact')/Attributes` (an
Integer, Picklist, DateTime, String, Boolean, Decimal or Memo attribute metadata body)
become columns of the table at once: rows accept and return them. A second create of
the same schema name is refused; nothing here alters or deletes a column.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from emulator.dataverse import odata
from emulator.dataverse.errors import DUPLICATE_ATTRIBUTE, DataverseError, bad_request
from emulator.dataverse.schema import Column, Table

_NAMESPACE = uuid.UUID("6b1f0d5e-8f5c-4c1e-9a57-3d1f6c0a2b44")
# column kind -> (metadata type, AttributeType)
_STANDARD_TYPES = {
    "string": ("StringAttributeMetadata", "String"),
    "integer": ("IntegerAttributeMetadata", "Integer"),
    "picklist": ("PicklistAttributeMetadata", "Picklist"),
    "boolean": ("BooleanAttributeMetadata", "Boolean"),
    "datetime": ("DateTimeAttributeMetadata", "DateTime"),
    "money": ("MoneyAttributeMetadata", "Money"),
    "decimal": ("DecimalAttributeMetadata", "Decimal"),
    "guid": ("AttributeMetadata", "Uniqueidentifier"),
    "lookup": ("LookupAttributeMetadata", "Lookup"),
}
# metadata type a client may create -> column kind
CREATABLE = {
    "IntegerAttributeMetadata": "integer",
    "PicklistAttributeMetadata": "picklist",
    "DateTimeAttributeMetadata": "datetime",
    "StringAttributeMetadata": "string",
    "MemoAttributeMetadata": "string",
    "BooleanAttributeMetadata": "boolean",
    "DecimalAttributeMetadata": "decimal",
}


def metadata_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


_SCHEMA_NAMES = {
    "systemuser": "SystemUser",
    "connectionrole": "ConnectionRole",
    "phonecall": "PhoneCall",
    "activityparty": "ActivityParty",
}


def schema_name(table: Table) -> str:
    """The table's schema name, as privilege names use it (prvReadSystemUser)."""
    return _SCHEMA_NAMES.get(table.logical_name, table.logical_name.title())


def entity_definition(table: Table) -> dict[str, Any]:
    return {
        "@odata.type": "#Microsoft.Dynamics.CRM.EntityMetadata",
        "MetadataId": metadata_id(table.logical_name),
        "LogicalName": table.logical_name,
        "SchemaName": schema_name(table),
        "EntitySetName": table.entity_set,
        "PrimaryIdAttribute": table.primary_id,
        "PrimaryNameAttribute": table.primary_name,
        "ObjectTypeCode": table.object_type_code,
        "ChangeTrackingEnabled": True,
        "IsCustomEntity": False,
    }


def attribute_definition(table: Table, column: Column) -> dict[str, Any]:
    if column.metadata is not None:
        created = dict(column.metadata)
        created["@odata.type"] = "#" + str(created.get("@odata.type", "")).lstrip("#")
        return created
    metadata_type, attribute_type = _STANDARD_TYPES[column.kind]
    if column.name == table.primary_id:
        attribute_type = "Uniqueidentifier"
    elif column.name in ("statecode", "statuscode"):
        metadata_type = (
            "StateAttributeMetadata" if column.name == "statecode" else ("StatusAttributeMetadata")
        )
        attribute_type = "State" if column.name == "statecode" else "Status"
    elif column.kind == "lookup" and column.name == "ownerid":
        attribute_type = "Owner"
    elif column.kind == "lookup" and len(column.targets) > 1:
        attribute_type = "Customer"
    definition: dict[str, Any] = {
        "@odata.type": f"#Microsoft.Dynamics.CRM.{metadata_type}",
        "MetadataId": metadata_id(table.logical_name, column.name),
        "LogicalName": column.name,
        "SchemaName": column.schema_name or column.name.title(),
        "AttributeType": attribute_type,
        "AttributeTypeName": {"Value": f"{attribute_type}Type"},
        "IsCustomAttribute": False,
        "IsValidForUpdate": column.name not in (table.primary_id, "versionnumber"),
    }
    if column.kind == "lookup":
        definition["Targets"] = list(column.targets)
    if column.kind == "picklist":
        definition["OptionSet"] = {"Options": []}
    return definition


def _project(item: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    if select is None:
        return item
    keep = set(select) | {"@odata.type", "MetadataId"}
    return {k: v for k, v in item.items() if k in keep}


def listing(items: list[dict[str, Any]], query: Mapping[str, str], context: str) -> dict[str, Any]:
    """A metadata collection with $select and $filter applied (no paging, as Dataverse)."""
    select = odata.parse_select(query.get("$select"), lambda _: True)
    predicate = (
        odata.parse_filter(query["$filter"], lambda _: True) if query.get("$filter") else None
    )
    chosen = [item for item in items if predicate is None or predicate(item)]
    return {"@odata.context": context, "value": [_project(i, select) for i in chosen]}


def _label(body: Mapping[str, Any], name: str) -> str | None:
    label = body.get(name)
    labels = label.get("LocalizedLabels") if isinstance(label, dict) else None
    if isinstance(labels, list) and labels and isinstance(labels[0], dict):
        return str(labels[0].get("Label"))
    return None


def create_attribute(table: Table, body: Any, solution: str | None) -> tuple[Column, str]:
    """Add the column `body` describes; returns (column, its MetadataId)."""
    if not isinstance(body, dict):
        raise bad_request("The attribute definition must be a JSON object.")
    metadata_type = str(body.get("@odata.type", "")).lstrip("#").rsplit(".", 1)[-1]
    kind = CREATABLE.get(metadata_type)
    if kind is None:
        raise bad_request(
            f"'@odata.type' must be one of {', '.join(sorted(CREATABLE))}; got "
            f"'{body.get('@odata.type')}'."
        )
    schema_name = body.get("SchemaName")
    if not isinstance(schema_name, str) or "_" not in schema_name.strip("_"):
        raise bad_request(
            "SchemaName is required and must start with the solution publisher's prefix and "
            "an underscore (for example 'rapport_HealthScore')."
        )
    if _label(body, "DisplayName") is None:
        raise bad_request("DisplayName with at least one LocalizedLabel is required.")
    logical = schema_name.lower()
    if logical in table.columns:
        raise DataverseError(
            400,
            DUPLICATE_ATTRIBUTE,
            f"An attribute with the name '{schema_name}' already exists on the entity "
            f"'{table.logical_name}'.",
        )
    if kind == "picklist":
        _check_options(body)
    attribute_id = metadata_id(table.logical_name, logical)
    stored = dict(body)
    stored.update(
        {
            "@odata.type": f"Microsoft.Dynamics.CRM.{metadata_type}",
            "MetadataId": attribute_id,
            "LogicalName": logical,
            "SchemaName": schema_name,
            "AttributeType": metadata_type.removesuffix("AttributeMetadata"),
            "IsCustomAttribute": True,
            "IsValidForUpdate": True,
            "SolutionUniqueName": solution,
        }
    )
    column = Column(logical, kind, custom=True, schema_name=schema_name, metadata=stored)
    table.columns[logical] = column
    return column, attribute_id


def _check_options(body: Mapping[str, Any]) -> None:
    option_set = body.get("OptionSet")
    options = option_set.get("Options") if isinstance(option_set, dict) else None
    if not isinstance(options, list) or not options:
        raise bad_request("A PicklistAttributeMetadata needs OptionSet.Options.")
    for option in options:
        if not isinstance(option, dict) or not isinstance(option.get("Value"), int):
            raise bad_request("Each option needs an integer Value and a Label.")
