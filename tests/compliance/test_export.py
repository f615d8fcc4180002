"""Export: everything Rapport holds about a subject, in a documented, versioned layout."""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from compliance import (
    EMPLOYMENT_NOTICE,
    SECTIONS,
    ExportTargetError,
    SubjectError,
    UnknownSubjectError,
    deliver_export,
    export_subject,
    list_audit,
    write_export,
)
from compliance.export_layout import SECTION_COLUMNS, SECTION_SOURCES
from tests.compliance.scan import tables_mentioning
from tests.compliance.scenario import ACCOUNT_ID, ANA, BO, DANA, LEE, NOW, Person

DOCS = Path(__file__).resolve().parents[2] / "docs" / "compliance.md"


def _party_keys(engine: Engine, record_id: str) -> set[str]:
    with engine.connect() as connection:
        query = sa.text("SELECT interaction_key FROM interaction_party WHERE record_id = :id")
        return set(connection.execute(query, {"id": record_id}).scalars())


def _regarding_keys(engine: Engine, record_id: str) -> set[str]:
    with engine.connect() as connection:
        query = sa.text("SELECT key FROM interaction WHERE regarding_id = :id")
        return set(connection.execute(query, {"id": record_id}).scalars())


@pytest.mark.parametrize("person", [DANA, ANA], ids=["contact", "system_user"])
def test_every_table_holding_subject_data_is_in_the_export(scored: Engine, person: Person) -> None:
    export = export_subject(scored, person.addresses[0], now=NOW)

    exported_tables = {
        SECTION_SOURCES[section]
        for section, rows in export.sections.items()
        if rows and section in SECTION_SOURCES
    }
    holding = tables_mentioning(scored, person.needles)
    # Interactions and sightings name people only through party rows and keys.
    if _party_keys(scored, person.record_id):
        holding |= {"interaction", "interaction_sighting"}
    assert holding <= exported_tables, holding - exported_tables
    assert {"relationship_kpi", "interaction", "interaction_party", "audit_event"} & holding


def test_export_content_matches_the_store(scored: Engine) -> None:
    export = export_subject(scored, f"  {DANA.addresses[1].upper()} ", now=NOW)
    sections = export.sections

    assert export.subject == DANA.addresses[1]
    assert export.records == [("contact", DANA.record_id)]
    [record] = sections["records"]
    assert record["name"] == DANA.name and record["health_score"] is not None
    assert sorted(record["addresses"]) == sorted(DANA.addresses)
    [kpi] = sections["kpis"]
    assert kpi["record_id"] == DANA.record_id and kpi["emails_sent"] > 0
    assert {row["system_user_id"] for row in sections["most_contacted"]} == {
        ANA.record_id,
        BO.record_id,
    }
    assert sections["reasons"] and sections["factors"] and sections["weekly"]
    assert [row["day"] for row in sections["history"]] == [NOW.date()]
    involved = _party_keys(scored, DANA.record_id) | _regarding_keys(scored, DANA.record_id)
    assert {row["key"] for row in sections["interactions"]} == involved
    counterparts = {p["record_id"] for p in sections["interaction_parties"] if not p["is_subject"]}
    assert {ANA.record_id, LEE.record_id} <= counterparts
    mentioned = {(row["record_id"], row["field"]) for row in sections["mentions"]}
    assert (ACCOUNT_ID, "reasons") in mentioned
    assert {row["action"] for row in sections["audit_events"]} == {"subject_exported", "note"}
    assert export.holds_data


def test_interactions_carry_metadata_only(scored: Engine) -> None:
    export = export_subject(scored, DANA.ref, now=NOW)

    assert set(SECTION_COLUMNS["interactions"]) == {
        "key",
        "source",
        "kind",
        "direction",
        "occurred_at",
        "duration_minutes",
        "conversation_id",
        "regarding_type",
        "regarding_id",
        "planned",
        "opens",
        "clicks",
        "crm_activity_id",
    }
    assert all(
        set(row) == set(SECTION_COLUMNS["interactions"]) for row in export.sections["interactions"]
    )


def test_a_system_user_export_covers_their_internal_interactions(scored: Engine) -> None:
    export = export_subject(scored, f"system_user:{ANA.record_id}", now=NOW)

    assert {row["key"] for row in export.sections["interactions"]} == _party_keys(
        scored, ANA.record_id
    )
    assert export.sections["kpis"] == []  # colleagues are not scored
    assert [m["id"] for m in export.sections["mailboxes"]] == list(ANA.aliases)
    assert [c["folder_id"] for c in export.sections["sync_cursors"]] == ["inbox"]
    assert "delta_link" not in export.sections["sync_cursors"][0]
    assert {s["mailbox_id"] for s in export.sections["interaction_sightings"]} == set(ANA.aliases)
    listed = {
        row["record_id"] for row in export.sections["mentions"] if row["field"] == "most_contacted"
    }
    assert {DANA.record_id, LEE.record_id, ACCOUNT_ID} <= listed


def test_json_file_is_versioned_private_and_carries_the_notice(
    scored: Engine, tmp_path: Path
) -> None:
    export = export_subject(scored, DANA.addresses[0], now=NOW)

    [path] = write_export(export, tmp_path / "out", "json")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format_version"] == 1
    assert document["notice"] == EMPLOYMENT_NOTICE and "employment" in document["notice"]
    assert document["subject"] == DANA.addresses[0]
    assert list(document["sections"]) == list(SECTIONS)
    assert document["counts"] == export.counts()
    assert document["sections"]["history"][0]["day"] == NOW.date().isoformat()


def test_csv_is_one_private_file_per_section(scored: Engine, tmp_path: Path) -> None:
    export = export_subject(scored, DANA.addresses[0], now=NOW)

    paths = write_export(export, tmp_path, "csv")

    assert {p.name for p in paths} == {"manifest.csv", *(f"{s}.csv" for s in SECTIONS)}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in paths)
    for section in SECTIONS:
        with (tmp_path / f"{section}.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        assert tuple(rows[0][: len(SECTION_COLUMNS[section])]) == SECTION_COLUMNS[section]
        assert len(rows) - 1 == len(export.sections[section])
    manifest = (tmp_path / "manifest.csv").read_text(encoding="utf-8")
    assert "format_version,1" in manifest and "must not be used" in manifest


def test_an_existing_file_is_never_overwritten(scored: Engine, tmp_path: Path) -> None:
    planted = tmp_path / "rapport-export.json"
    planted.write_text("{}")
    planted.chmod(0o644)
    export = export_subject(scored, DANA.addresses[0], now=NOW)

    with pytest.raises(ExportTargetError, match="already holds rapport-export.json"):
        write_export(export, tmp_path, "json")
    assert planted.read_text() == "{}"


def test_delivery_audits_format_and_counts_only(scored: Engine, tmp_path: Path) -> None:
    delivery = deliver_export(scored, LEE.addresses[0], out=tmp_path, fmt="csv", now=NOW)

    last = list_audit(scored)[-1]
    assert (last["command"], last["action"], last["subject"]) == (
        "export",
        "subject_exported",
        LEE.addresses[0],
    )
    assert last["details"] == {"format": "csv", "counts": delivery.export.counts()}


@pytest.mark.parametrize(
    ("subject", "error", "message"),
    [
        ("nobody@nowhere.example", UnknownSubjectError, "no contact, lead or system user"),
        ("contact:contact-missing-9999", UnknownSubjectError, "no contact with id"),
        ("widget:42", SubjectError, "expected an email address or TYPE:ID"),
        ("Dana Ruiz", SubjectError, "expected an email address or TYPE:ID"),
    ],
)
def test_bad_subjects_are_refused_by_name(
    scored: Engine, subject: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        export_subject(scored, subject, now=NOW)


def test_the_documentation_describes_every_section_and_column() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert "format_version" in text and "employment" in text
    for section, columns in SECTION_COLUMNS.items():
        assert f"`{section}`" in text, section
        missing = [c for c in columns if f"`{c}`" not in text]
        assert not missing, (section, missing)
