"""Who-knows-whom entries in a subject's export and erasure, and an opt-out that outlives it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from compliance import erase_subject, export_subject
from storage.engine import session_scope
from storage.introducer_optout_read import opted_out_colleagues
from tests.compliance.scan import occurrences, tables_mentioning
from tests.compliance.scenario import ANA, BO, DANA, LEE, NOW
from worker.run.introducer_optout import change_opt_out
from worker.run.tick import run_once


def _introducers(engine: Engine) -> set[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT record_id, system_user_id FROM introducer"))
        return {(record_id, user_id) for record_id, user_id in rows}


def test_the_scan_finds_the_subject_in_the_introducer_table(scored: Engine) -> None:
    assert "introducer" in tables_mentioning(scored, DANA.needles)
    assert "introducer" in tables_mentioning(scored, ANA.needles)


def test_the_export_carries_entries_about_the_person_and_about_the_colleague(
    scored: Engine,
) -> None:
    dana = export_subject(scored, DANA.addresses[0], now=NOW).sections["introducers"]
    ana = export_subject(scored, ANA.ref, now=NOW).sections["introducers"]

    assert {(r["record_id"], r["system_user_id"]) for r in dana} == {
        (DANA.record_id, ANA.record_id),
        (DANA.record_id, BO.record_id),
    }
    assert [r["rank"] for r in dana] == [1, 2]
    assert {r["strength_label"] for r in dana} <= {"strong", "moderate", "weak"}
    assert {r["system_user_id"] for r in ana} == {ANA.record_id}
    assert {r["record_id"] for r in ana} == {DANA.record_id, LEE.record_id}


def test_erasing_a_person_removes_their_entries_and_keeps_everyone_elses(scored: Engine) -> None:
    before = _introducers(scored)

    dry = erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=True)
    report = erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=False)

    assert dry.counts["introducer"] == report.counts["introducer"] == 2
    assert _introducers(scored) == {row for row in before if row[0] != DANA.record_id}
    assert occurrences(scored, DANA.needles) == []
    assert export_subject(scored, DANA.ref, now=NOW).sections["introducers"] == []


def test_erasing_a_colleague_who_opted_out_keeps_the_opt_out_as_a_token(scored: Engine) -> None:
    change_opt_out(scored, ANA.addresses[0], opted_out=True, now=NOW)
    assert not {user for _record, user in _introducers(scored)} & {ANA.record_id}

    report = erase_subject(scored, ANA.ref, now=NOW, dry_run=False)

    assert report.counts["introducer_opt_out"] == 1
    assert occurrences(scored, ANA.needles) == []
    with session_scope(scored) as session:
        still = opted_out_colleagues(session=session, user_ids=[ANA.record_id], now=NOW)
    assert still == {ANA.record_id}
    # The next run neither names her nor brings her back as an introducer.
    run_once(scored, now=NOW)
    assert ANA.record_id not in {user for _record, user in _introducers(scored)}
    assert occurrences(scored, ANA.needles) == []


def test_erasing_a_colleague_removes_the_entries_naming_them(scored: Engine) -> None:
    report = erase_subject(scored, BO.ref, now=NOW, dry_run=False)

    assert report.counts["introducer"] >= 1
    assert report.counts["introducer_opt_out"] == 0
    assert BO.record_id not in {user for _record, user in _introducers(scored)}
    assert occurrences(scored, BO.needles) == []
