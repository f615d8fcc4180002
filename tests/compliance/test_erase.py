"""Erase: nothing of the subject is left in Rapport's tables, and nobody else loses anything."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from compliance import UnknownSubjectError, erase_subject, export_subject, list_audit
from compliance.hashing import SubjectHasher
from compliance.subjects import resolve_subject
from storage.engine import session_scope
from storage.rapport_tables import RelationshipKpi, RiSetting
from storage.types import core_table
from tests.compliance.scan import dump, occurrences
from tests.compliance.scenario import ACCOUNT_ID, ANA, DANA, LEE, NOW, OPPORTUNITY_ID

RAPPORT_SECTIONS_AFTER_ERASE = (
    "kpis",
    "weekly",
    "most_contacted",
    "reasons",
    "factors",
    "history",
    "interactions",
    "interaction_parties",
    "mentions",
    "audit_events",
)


def _rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text(sql), params))


def _interactions_of(engine: Engine, record_id: str) -> set[tuple[str, str, str, str]]:
    return {
        tuple(row)
        for row in _rows(
            engine,
            "SELECT interaction_key, record_type, record_id, role FROM interaction_party "
            "WHERE interaction_key IN "
            "(SELECT interaction_key FROM interaction_party WHERE record_id = :id)",
            id=record_id,
        )
    }


def _kpi(engine: Engine, record_id: str) -> dict[str, Any]:
    kpis = core_table(RelationshipKpi)
    with engine.connect() as connection:
        [row] = connection.execute(sa.select(kpis).where(kpis.c.record_id == record_id))
    return dict(row._mapping)


def test_after_erasure_no_table_holds_the_subject(scored: Engine) -> None:
    assert occurrences(scored, DANA.needles)  # the scan does find her before

    report = erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=False)

    assert report.removed_anything and report.records == [("contact", DANA.record_id)]
    assert occurrences(scored, DANA.needles) == []


def test_a_system_user_is_erased_from_parties_most_contacted_and_mailboxes(
    scored: Engine,
) -> None:
    interactions_before = _rows(scored, "SELECT key FROM interaction ORDER BY key")

    report = erase_subject(scored, ANA.ref, now=NOW, dry_run=False)

    assert report.counts["mailbox"] == report.counts["sync_cursor"] == 1
    assert report.counts["interaction_sighting"] == 2
    assert _rows(scored, "SELECT * FROM interaction_sighting") == []

    assert occurrences(scored, ANA.needles) == []
    # Their customers' history stays: colleagues are never the only external party.
    assert _rows(scored, "SELECT key FROM interaction ORDER BY key") == interactions_before
    assert [e["system_user_id"] for e in _kpi(scored, LEE.record_id)["most_contacted"]] == [
        "user-bo-colleague-0002"
    ]


def test_other_subjects_keep_their_interactions_and_scores(scored: Engine) -> None:
    lee_before = _interactions_of(scored, LEE.record_id)
    lee_kpi = _kpi(scored, LEE.record_id)
    account_kpi = _kpi(scored, ACCOUNT_ID)
    lee_snapshots = _rows(
        scored, "SELECT * FROM health_snapshot WHERE record_id = :id", id=LEE.record_id
    )
    lee_health = _rows(
        scored,
        "SELECT health_score, health_state, health_trend FROM contact WHERE id = :id",
        id=LEE.record_id,
    )

    erase_subject(scored, DANA.ref, now=NOW, dry_run=False)

    without_dana = {row for row in lee_before if row[2] != DANA.record_id}
    assert _interactions_of(scored, LEE.record_id) == without_dana
    assert _kpi(scored, LEE.record_id) == lee_kpi
    assert (
        _rows(scored, "SELECT * FROM health_snapshot WHERE record_id = :id", id=LEE.record_id)
        == lee_snapshots
    )
    assert (
        _rows(
            scored,
            "SELECT health_score, health_state, health_trend FROM contact WHERE id = :id",
            id=LEE.record_id,
        )
        == lee_health
    )
    account_after = _kpi(scored, ACCOUNT_ID)
    assert account_after["health_score"] == account_kpi["health_score"]
    assert account_after["reasons"] == [r for r in account_kpi["reasons"] if DANA.name not in r]
    assert len(account_after["reasons"]) < len(account_kpi["reasons"])


def test_erasure_counts_what_went(scored: Engine) -> None:
    report = erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=False)

    assert report.counts["relationship_kpi"] == 1
    assert report.counts["health_snapshot"] == 1
    assert report.counts["crm_health"] == 1
    assert report.counts["interaction_regarding"] == 1
    assert report.counts["relationship_kpi_mentions"] == 2  # the account and the opportunity
    assert report.counts["audit_event"] == 2
    # Threads, unanswered emails, the call, and one email seen in Ana's mailbox.
    assert report.counts["interaction"] == 6 * 2 + 3 + 1 + 1
    assert report.counts["interaction_sighting"] == 1
    assert report.counts["mailbox"] == report.counts["sync_cursor"] == 0


def test_export_after_erasure_is_empty(scored: Engine) -> None:
    erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=False)

    export = export_subject(scored, DANA.addresses[0], now=NOW)

    assert not export.holds_data
    assert all(export.sections[name] == [] for name in RAPPORT_SECTIONS_AFTER_ERASE)
    [record] = export.sections["records"]  # the CRM still has its own record
    assert record["health_score"] is None and record["health_updated_at"] is None


def test_erasure_is_idempotent(scored: Engine) -> None:
    erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=False)
    after_first = dump(scored)

    again = erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=False)

    assert not again.removed_anything
    after_second = dump(scored)
    assert len(after_second.pop("audit_event")) == len(after_first.pop("audit_event")) + 1
    assert after_second == after_first


def test_a_dry_run_changes_nothing_and_counts_the_same(scored: Engine) -> None:
    before = dump(scored)

    planned = erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=True)

    assert dump(scored) == before
    assert planned.dry_run and planned.subject_token is None
    done = erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=False)
    assert done.counts == planned.counts


def test_the_audit_log_keeps_the_erasure_and_names_the_subject_by_token(scored: Engine) -> None:
    report = erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=False)

    events = list_audit(scored)
    erased = events[-1]
    assert (erased["command"], erased["action"]) == ("erase", "subject_erased")
    assert erased["subject"] == report.subject_token
    assert erased["details"] == {"counts": report.counts}
    hasher = SubjectHasher(bytes.fromhex(_salt(scored)))
    assert report.subject_token == hasher.token(DANA.addresses[0].upper())
    exported = next(e for e in events if e["action"] == "subject_exported")
    assert exported["subject"] == hasher.token(DANA.addresses[0])
    note = next(e for e in events if e["action"] == "note")
    assert note["details"]["records"] == [f"contact:{hasher.token(DANA.record_id)}", LEE.ref]
    assert note["details"]["note"] == f"{hasher.token(DANA.name)} asked for a copy"


def _salt(engine: Engine) -> str:
    settings = core_table(RiSetting)
    query = sa.select(settings.c.value).where(settings.c.key == "compliance.hash_salt")
    with engine.connect() as connection:
        return str(connection.execute(query).scalar_one())


def test_an_opportunity_loses_its_scores_but_not_its_people(scored: Engine) -> None:
    interactions_before = _rows(scored, "SELECT key FROM interaction ORDER BY key")

    report = erase_subject(scored, f"opportunity:{OPPORTUNITY_ID}", now=NOW, dry_run=False)

    assert report.counts["relationship_kpi"] == 1 and report.counts["interaction"] == 0
    assert _rows(scored, "SELECT key FROM interaction ORDER BY key") == interactions_before
    assert occurrences(scored, (OPPORTUNITY_ID,)) == []


def test_a_record_the_crm_already_deleted_can_still_be_erased(scored: Engine) -> None:
    with scored.begin() as connection:
        connection.execute(sa.text("DELETE FROM contact WHERE id = :id"), {"id": DANA.record_id})

    report = erase_subject(scored, DANA.ref, now=NOW, dry_run=False)

    assert report.counts["relationship_kpi"] == 1
    assert occurrences(scored, (DANA.record_id,)) == []
    with pytest.raises(UnknownSubjectError), session_scope(scored) as session:
        resolve_subject(session=session, text=DANA.ref)
