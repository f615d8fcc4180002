"""A data subject and the Dataverse connector (docs/dataverse.md, "Compliance").

Export: what Rapport pushed onto the subject's Dataverse records (dataverse_push: the
values and when). Erase: the pushed values are forgotten here, the connector's id maps
lose the subject's rows, and the digests stay, so the next push (run by `rapport erase`
itself when the connector is on, else by the next tick) empties Rapport's columns on the
subject's records; while the subject stays erased, every push keeps them empty.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from compliance.tables import RecordKey, ref_filter
from storage.dataverse_tables import DataverseParty, DataversePush, DataverseStakeholder
from storage.types import core_table

PUSHES = core_table(DataversePush)
PARTY_MAP = core_table(DataverseParty)
STAKEHOLDER_MAP = core_table(DataverseStakeholder)
PUSHED_COLUMNS = (
    "health_score",
    "health_state",
    "health_trend",
    "health_updated_at",
    "health_reason",
    "weakest_contact",
)
SECTION_COLUMNS = ("record_type", "record_id", "pushed_at", "outcome", *PUSHED_COLUMNS)


def pushed_rows(session: Session, refs: frozenset[RecordKey]) -> list[dict[str, Any]]:
    """What was written onto the subject's Dataverse records, one row per record."""
    query = sa.select(PUSHES).where(ref_filter(PUSHES, refs)).order_by(PUSHES.c.record_id)
    rows = []
    for row in session.execute(query).mappings():
        values = row["pushed_values"] or {}
        rows.append(
            {
                "record_type": row["record_type"],
                "record_id": row["record_id"],
                "pushed_at": row["pushed_at"],
                "outcome": row["outcome"],
                **{column: values.get(column) for column in PUSHED_COLUMNS},
            }
        )
    return rows


def forget_pushes(session: Session, refs: frozenset[RecordKey]) -> None:
    """Erase: pushed values and id-map rows of the subject (the digests stay: see above)."""
    session.execute(sa.update(PUSHES).where(ref_filter(PUSHES, refs)).values(pushed_values={}))
    session.execute(sa.delete(PARTY_MAP).where(ref_filter(PARTY_MAP, refs)))
    contacts = [record_id for record_type, record_id in refs if record_type == "contact"]
    if contacts:
        session.execute(
            sa.delete(STAKEHOLDER_MAP).where(STAKEHOLDER_MAP.c.contact_id.in_(contacts))
        )
