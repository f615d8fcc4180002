"""The versioned layout of a subject export (documented in docs/compliance.md).

The JSON file and the CSV files carry the same sections with the same
columns: a section is a list of flat rows, so each one maps to one CSV file.
Columns that mirror a table are read from the table itself, so a column added
by a migration shows up in every export without anyone remembering to add it.
Bump FORMAT_VERSION when a column is renamed or removed, or a section changes
meaning; adding a column or a section keeps the version.
"""

from __future__ import annotations

import sqlalchemy as sa

from compliance.dataverse import SECTION_COLUMNS as DATAVERSE_PUSH_COLUMNS
from compliance.tables import (
    AUDIT,
    CURSOR,
    INTERACTION,
    INTRODUCER,
    KPI,
    MAILBOX,
    PARTY,
    SIGHTING,
)
from storage.packed_parties import PACKED_COLUMNS

FORMAT_VERSION = 1

EMPLOYMENT_NOTICE = (
    "This export contains relationship-analytics data derived from communication metadata. "
    "It must not be used to make or support decisions that affect anyone's employment, "
    "such as hiring, performance evaluation, pay, promotion, discipline or termination."
)

# JSON lists on relationship_kpi that become sections of their own.
KPI_LIST_COLUMNS = tuple(c.name for c in KPI.columns if isinstance(c.type, sa.JSON))
KPI_COLUMNS = tuple(c.name for c in KPI.columns if c.name not in KPI_LIST_COLUMNS)
# Delta and next links are opaque resume URLs of the sync, not data about anyone.
CURSOR_COLUMNS = tuple(c.name for c in CURSOR.columns if not c.name.endswith("_link"))
# The packed parties are a copy of interaction_party, which has a section of its own.
INTERACTION_COLUMNS = tuple(c.name for c in INTERACTION.columns if c.name not in PACKED_COLUMNS)

SECTION_COLUMNS: dict[str, tuple[str, ...]] = {
    "records": (
        "record_type",
        "record_id",
        "in_crm",
        "name",
        "addresses",
        "created_at",
        "health_score",
        "health_state",
        "health_trend",
        "health_updated_at",
    ),
    "kpis": KPI_COLUMNS,
    "weekly": (
        "record_type",
        "record_id",
        "week_start",
        "emails_sent",
        "emails_received",
        "meetings",
        "phone_calls",
    ),
    "most_contacted": ("record_type", "record_id", "system_user_id", "interactions"),
    "reasons": ("record_type", "record_id", "position", "reason"),
    "factors": ("record_type", "record_id", "name", "value", "weight", "points", "detail"),
    "history": ("record_type", "record_id", "day", "health_score", "health_state", "health_trend"),
    "interactions": INTERACTION_COLUMNS,
    "interaction_parties": (*(c.name for c in PARTY.columns), "is_subject"),
    "interaction_sightings": tuple(c.name for c in SIGHTING.columns),
    "mailboxes": tuple(c.name for c in MAILBOX.columns),
    "sync_cursors": CURSOR_COLUMNS,
    "introducers": tuple(c.name for c in INTRODUCER.columns),
    "mentions": ("record_type", "record_id", "field", "value"),
    "audit_events": tuple(c.name for c in AUDIT.columns),
    "dataverse_pushes": DATAVERSE_PUSH_COLUMNS,  # what the connector wrote to Dataverse
}
SECTIONS = tuple(SECTION_COLUMNS)

# Which Rapport-owned table each section is read from: the export is complete
# when every table that can hold subject data appears here.
SECTION_SOURCES: dict[str, str] = {
    "kpis": "relationship_kpi",
    "weekly": "relationship_kpi",
    "most_contacted": "relationship_kpi",
    "reasons": "relationship_kpi",
    "factors": "relationship_kpi",
    "mentions": "relationship_kpi",
    "history": "health_snapshot",
    "interactions": "interaction",
    "interaction_parties": "interaction_party",
    "interaction_sightings": "interaction_sighting",
    "mailboxes": "mailbox",
    "sync_cursors": "sync_cursor",
    "introducers": "introducer",
    "audit_events": "audit_event",
    "dataverse_pushes": "dataverse_push",
}
