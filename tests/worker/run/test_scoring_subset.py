"""score_and_write(records=...): only the given records are scored and written, with the
values a whole-book run gives them (the interface of incremental ticks)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from scoring.model import RecordRef, RecordType
from storage.crm_records import load_crm_snapshot
from storage.crm_tables import Account, Contact, Lead, Opportunity
from storage.engine import session_scope
from storage.rapport_tables import HealthSnapshot, RelationshipKpi
from storage.types import core_table
from tests import factories as f
from worker.admin_settings import current_settings
from worker.run import scoring as scoring_run
from worker.run.introducers import introducer_ranking
from worker.run.scoring import score_and_write
from worker.run.tick import run_once

KPI, SNAPSHOT = core_table(RelationshipKpi), core_table(HealthSnapshot)
HEALTH_TABLES = [core_table(t) for t in (Contact, Account, Opportunity, Lead)]


def _book(engine: Engine) -> None:
    """Two accounts with three contacts each, an open deal on each, a lead."""
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.user(engine, "u2", "ben@ours.example", "Ben Seller")
    for a in ("a1", "a2"):
        f.account(engine, a, f"Account {a}", primary=f"{a}-c0")
        for c in range(3):
            contact = f"{a}-c{c}"
            f.contact(engine, contact, f"{contact}@customer.example", f"Person {contact}", a)
            for week in range(2 + c * 2):
                seller = "ana@ours.example" if week % 2 else "ben@ours.example"
                at = f.days_ago(6 * week + c)
                f.email(engine, sender=seller, to=[f"{contact}@customer.example"], at=at)
                if week % 2:
                    f.email(
                        engine,
                        sender=f"{contact}@customer.example",
                        to=[seller],
                        at=at + timedelta(hours=5),
                    )
        f.opportunity(engine, f"{a}-deal", a, "u1", f"{a}-c1", stakeholders=(f"{a}-c2",))
    f.lead(engine, "l1", "lee@prospect.example", "Lee Prospect", "u2")
    for week in range(4):
        f.email(
            engine, sender="ben@ours.example", to=["lee@prospect.example"], at=f.days_ago(7 * week)
        )


def _written(engine: Engine) -> dict[str, Any]:
    """What scoring wrote, by record: health columns, KPI rows, snapshots."""
    with engine.connect() as connection:
        health = {
            (table.name, row.id): tuple(row)[1:]
            for table in HEALTH_TABLES
            for row in connection.execute(
                sa.select(
                    table.c.id, table.c.health_score, table.c.health_state, table.c.health_trend
                ).where(table.c.health_state.is_not(None))
            )
        }
        kpi_columns = [c for c in KPI.c if c.name != "computed_at"]
        kpis = {(row[0], row[1]): tuple(row) for row in connection.execute(sa.select(*kpi_columns))}
        snapshots = sorted(tuple(row) for row in connection.execute(sa.select(SNAPSHOT)))
    return {"health": health, "kpis": kpis, "snapshots": snapshots}


def _forget(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.delete(KPI))
        connection.execute(sa.delete(SNAPSHOT))
        for table in HEALTH_TABLES:
            connection.execute(
                sa.update(table).values(health_score=None, health_state=None, health_trend=None)
            )


def _score(engine: Engine, records: frozenset[RecordRef] | None, processes: int = 1) -> Any:
    """score_and_write as a tick calls it: the book read from the store as columns."""
    with session_scope(engine) as session:
        crm = load_crm_snapshot(session=session, now=f.NOW)
    admin = current_settings(engine)
    ranking = introducer_ranking(engine, now=f.NOW, crm=crm, admin=admin)
    return score_and_write(
        engine,
        crm,
        now=f.NOW,
        batch_size=3,
        processes=processes,
        progress=None,
        admin=admin,
        introducers=ranking,
        records=records,
    )


def _ref(record_type: RecordType, record_id: str) -> RecordRef:
    return RecordRef(record_type, record_id)


SUBSET = frozenset(
    {
        _ref(RecordType.CONTACT, "a1-c1"),
        _ref(RecordType.ACCOUNT, "a1"),  # a roll-up of a1-c0, a1-c1, a1-c2
        _ref(RecordType.OPPORTUNITY, "a1-deal"),
        _ref(RecordType.LEAD, "l1"),
        _ref(RecordType.SYSTEM_USER, "u1"),  # not a scored record: ignored
    }
)
TABLE_OF = {
    RecordType.CONTACT: "contact",
    RecordType.ACCOUNT: "account",
    RecordType.OPPORTUNITY: "opportunity",
    RecordType.LEAD: "lead",
}


@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("read", ["by refs", "every row"])
def test_scoring_a_subset_writes_only_it_with_the_whole_books_values(
    engine: Engine, processes: int, read: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The subset names 4 of the book's 7 people: read by refs below the share, else every row.
    monkeypatch.setattr(scoring_run, "KEYED_READ_SHARE", 0.9 if read == "by refs" else 0.5)
    _book(engine)
    run_once(engine, now=f.NOW, processes=1)  # ingests the CRM's activities
    _forget(engine)
    whole = _score(engine, None)
    full = _written(engine)
    assert whole.records_scored == 11  # 6 contacts, 2 accounts, 2 deals, 1 lead
    _forget(engine)

    part = _score(engine, SUBSET, processes)

    # Only the interactions of a1's three contacts and the lead, or every one.
    assert (part.interactions < whole.interactions) == (read == "by refs")

    written = _written(engine)
    wanted = {(TABLE_OF[ref.type], ref.id) for ref in SUBSET if ref.type in TABLE_OF}
    assert part.records_scored == len(wanted) == 4
    assert written["health"] == {key: full["health"][key] for key in wanted}
    assert all(score is not None for score, _, _ in written["health"].values())
    wanted_kpis = {(ref.type.value, ref.id) for ref in SUBSET if ref.type in TABLE_OF}
    assert written["kpis"] == {key: full["kpis"][key] for key in wanted_kpis}
    assert written["snapshots"] == [row for row in full["snapshots"] if row[:2] in wanted_kpis]
    # Introducers: ranked for the contacts and leads among the records only.
    people = {("contact", "a1-c1"), ("lead", "l1")}
    expected = [row for row in whole.introducers if (row.record_type, row.record_id) in people]
    assert sorted(part.introducers) == sorted(expected)
    assert {(row.record_type, row.record_id) for row in expected} == people
