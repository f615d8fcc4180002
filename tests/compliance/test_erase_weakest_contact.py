"""A deal or account whose weakest key contact is the subject (relationship_kpi.weakest_contact_*):
the export lists it among the mentions, and the erasure clears it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from compliance import erase_subject, export_subject
from tests.compliance.scan import occurrences
from tests.compliance.scenario import DANA, NOW


def test_a_record_naming_the_subject_as_its_weakest_contact_is_exported_then_cleared(
    scored: Engine,
) -> None:
    export = export_subject(scored, DANA.addresses[0], now=NOW)
    naming = [m for m in export.sections["mentions"] if m["field"] == "weakest_contact"]
    assert naming and {m["value"] for m in naming} == {DANA.record_id}

    report = erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=False)

    with scored.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT weakest_contact_id, weakest_contact_role, weakest_contact_score, "
                "weakest_contact_since FROM relationship_kpi WHERE record_id IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": [m["record_id"] for m in naming]},
        ).all()
    assert len(rows) == len(naming) and all(tuple(row) == (None,) * 4 for row in rows)
    assert report.counts["relationship_kpi_mentions"] >= len(naming)
    assert occurrences(scored, DANA.needles) == []
