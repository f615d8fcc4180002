"""Rapport's columns on Dataverse records: names, types, and the metadata that creates them.

Four tables carry them (contact, lead, opportunity, account). Schema names carry the
publisher prefix (`rapport_HealthScore`); logical names are their lower case. The
choice values are the relationship-analytics vocabularies of docs/crm-contract.md, so a
view or chart reads the same numbers Dynamics' own relationship analytics would use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# contract record type -> (logical name, entity set, primary id)
TABLES: dict[str, tuple[str, str, str]] = {
    "contact": ("contact", "contacts", "contactid"),
    "lead": ("lead", "leads", "leadid"),
    "opportunity": ("opportunity", "opportunities", "opportunityid"),
    "account": ("account", "accounts", "accountid"),
}
HEALTH_STATES = (
    "Good",
    "Fair",
    "Poor",
    "Not enough info",
    "No closed activities",
    "Computation in progress",
    "Something went wrong",
    "Record older than 2 years",
)
HEALTH_TRENDS = (
    "Improving",
    "Steady",
    "Declining",
    "Not enough info",
    "Something went wrong",
    "Not applicable",
)
DESCRIPTION = "Written by Rapport (relationship health); do not edit, Rapport overwrites it."
LANGUAGE = 1033
REASON_LENGTH = 400
CONTACT_LENGTH = 200


@dataclass(frozen=True)
class RapportColumn:
    key: str  # what the push calls it: health_score, health_state, ...
    name: str  # schema name without the prefix: HealthScore
    label: str
    metadata_type: str  # IntegerAttributeMetadata, ...
    extra: tuple[tuple[str, Any], ...] = ()

    def schema_name(self, prefix: str) -> str:
        return f"{prefix}_{self.name}"

    def logical_name(self, prefix: str) -> str:
        return self.schema_name(prefix).lower()

    @property
    def attribute_type(self) -> str:
        return self.metadata_type.removesuffix("AttributeMetadata")

    def definition(self, prefix: str) -> dict[str, Any]:
        """The body of `POST EntityDefinitions(LogicalName='...')/Attributes`."""
        return {
            "@odata.type": f"Microsoft.Dynamics.CRM.{self.metadata_type}",
            "SchemaName": self.schema_name(prefix),
            "DisplayName": _label(self.label),
            "Description": _label(DESCRIPTION),
            "RequiredLevel": {
                "Value": "None",
                "CanBeChanged": True,
                "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
            },
            **dict(self.extra),
        }


def _label(text: str) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.Label",
        "LocalizedLabels": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel",
                "Label": text,
                "LanguageCode": LANGUAGE,
            }
        ],
    }


def _choices(labels: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    options = [{"Value": value, "Label": _label(label)} for value, label in enumerate(labels)]
    return (
        (
            "OptionSet",
            {
                "@odata.type": "Microsoft.Dynamics.CRM.OptionSetMetadata",
                "IsGlobal": False,
                "OptionSetType": "Picklist",
                "Options": options,
            },
        ),
    )


COLUMNS: tuple[RapportColumn, ...] = (
    RapportColumn(
        "health_score",
        "HealthScore",
        "Health score",
        "IntegerAttributeMetadata",
        (("MinValue", 0), ("MaxValue", 100), ("Format", "None")),
    ),
    RapportColumn(
        "health_state",
        "HealthState",
        "Health state",
        "PicklistAttributeMetadata",
        _choices(HEALTH_STATES),
    ),
    RapportColumn(
        "health_trend",
        "HealthTrend",
        "Health trend",
        "PicklistAttributeMetadata",
        _choices(HEALTH_TRENDS),
    ),
    RapportColumn(
        "health_updated_at",
        "HealthUpdatedAt",
        "Health updated at",
        "DateTimeAttributeMetadata",
        (("Format", "DateAndTime"), ("DateTimeBehavior", {"Value": "UserLocal"})),
    ),
    RapportColumn(
        "health_reason",
        "HealthReason",
        "Health: first reason",
        "StringAttributeMetadata",
        (("MaxLength", REASON_LENGTH), ("FormatName", {"Value": "Text"})),
    ),
    RapportColumn(
        "weakest_contact",
        "WeakestKeyContact",
        "Weakest key contact",
        "StringAttributeMetadata",
        (("MaxLength", CONTACT_LENGTH), ("FormatName", {"Value": "Text"})),
    ),
)


def logical_names(prefix: str) -> dict[str, str]:
    """push key -> logical name of the column on the record."""
    return {column.key: column.logical_name(prefix) for column in COLUMNS}
