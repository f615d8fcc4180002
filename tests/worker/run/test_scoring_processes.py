"""Scoring in forked processes: the same rows as one process, and failures that say so."""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from scoring.model import RecordRef, RecordScope, RecordType
from storage.crm_tables import Account, Contact
from storage.rapport_tables import HealthSnapshot, Introducer, RelationshipKpi
from storage.types import core_table
from tests import factories as f
from worker.run.scoring_processes import (
    PartSummary,
    ScoringProcessFailed,
    run_parts,
    usable_processes,
)
from worker.run.scoring_shares import plan_shares
from worker.run.tick import run_once

KPI, SNAPSHOT = core_table(RelationshipKpi), core_table(HealthSnapshot)
INTRODUCER = core_table(Introducer)


def _book(engine: Engine) -> None:
    """Two accounts, eight contacts with different rhythms, one quiet."""
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.user(engine, "u2", "ben@ours.example", "Ben Seller")
    for a in ("a1", "a2"):
        f.account(engine, a, f"Account {a}", primary=f"{a}-c0")
        for c in range(4):
            contact = f"{a}-c{c}"
            f.contact(engine, contact, f"{contact}@customer.example", f"Person {contact}", a)
            for week in range(c * 2):
                seller = "ana@ours.example" if week % 2 else "ben@ours.example"
                at = f.days_ago(5 * week + c)
                thread = f"{contact}-{week}"
                f.email(
                    engine,
                    sender=seller,
                    to=[f"{contact}@customer.example"],
                    at=at,
                    conversation=thread,
                )
                if week % 3:
                    f.email(
                        engine,
                        sender=f"{contact}@customer.example",
                        to=[seller],
                        at=at + timedelta(hours=12),
                        conversation=thread,
                    )


def _written(engine: Engine) -> dict[str, Any]:
    columns = [c for c in KPI.c if c.name != "computed_at"]
    with engine.connect() as connection:
        health = {
            table.name: sorted(
                connection.execute(
                    sa.select(
                        table.c.id, table.c.health_score, table.c.health_state, table.c.health_trend
                    )
                ).all()
            )
            for table in (core_table(Contact), core_table(Account))
        }
        kpis = sorted(connection.execute(sa.select(*columns)).all(), key=lambda r: (r[0], r[1]))
        snapshots = sorted(connection.execute(sa.select(SNAPSHOT)).all())
        introducers = sorted(
            connection.execute(sa.select(*(c for c in INTRODUCER.c if c.name != "computed_at")))
        )
    return {"health": health, "kpis": kpis, "snapshots": snapshots, "introducers": introducers}


def _forget_health(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.delete(KPI))
        connection.execute(sa.delete(SNAPSHOT))
        connection.execute(sa.delete(INTRODUCER))
        for table in (core_table(Contact), core_table(Account)):
            connection.execute(
                sa.update(table).values(health_score=None, health_state=None, health_trend=None)
            )


def test_three_processes_write_exactly_the_rows_of_one(engine: Engine) -> None:
    _book(engine)
    single = run_once(engine, now=f.NOW, processes=1)
    expected = _written(engine)
    _forget_health(engine)

    # A full regrade: nothing changed in the CRM, so a plain tick would score nothing.
    forked = run_once(engine, now=f.NOW, processes=3, full=True)

    assert _written(engine) == expected
    assert len(expected["introducers"]) > 0  # every share ranked its own people's
    assert forked.introducers == single.introducers
    assert forked.records_scored == single.records_scored == 10
    assert forked.by_state == single.by_state
    assert forked.writeback.kpis_written == single.writeback.kpis_written == 10
    assert forked.writeback.by_type == single.writeback.by_type


def test_postgresql_scores_in_parallel_and_sqlite_in_one_process(engine: Engine) -> None:
    expected = 3 if engine.dialect.name == "postgresql" else 1  # SQLite has one writer
    assert usable_processes(engine, 3) == expected
    assert 1 <= usable_processes(engine, 0) <= 4


def _scope(record: RecordRef, *people: RecordRef) -> RecordScope:
    return RecordScope(record, record.id, frozenset(people))


def test_shares_keep_linked_records_together_and_balance_the_rest() -> None:
    contact = [RecordRef(RecordType.CONTACT, f"c{n}") for n in range(6)]
    account = [RecordRef(RecordType.ACCOUNT, f"a{n}") for n in range(2)]
    deal = RecordRef(RecordType.OPPORTUNITY, "o1")
    lead = RecordRef(RecordType.LEAD, "l1")
    scopes = [
        *(_scope(c, c) for c in contact),
        _scope(account[0], *contact[:3]),
        _scope(account[1], *contact[3:5]),
        _scope(deal, contact[0], contact[5]),  # a stakeholder from elsewhere links c5 in
        _scope(lead, lead),
    ]

    shares = plan_shares(scopes, 2)

    assert sorted(len(share.scopes) for share in shares) == [4, 6]
    assert sorted(s.record for share in shares for s in share.scopes) == sorted(
        s.record for s in scopes
    )
    for share in shares:
        records = {s.record for s in share.scopes}
        for scope in share.scopes:
            assert scope.people | {scope.record} <= share.refs
        # Nobody a share needs is scored in another share.
        for other in shares:
            if other is not share:
                assert not share.refs & {s.record for s in other.scopes}
        assert records <= share.refs


def test_fewer_groups_than_processes_make_fewer_shares() -> None:
    lone = RecordRef(RecordType.CONTACT, "c1")
    assert len(plan_shares([_scope(lone, lone)], 4)) == 1
    assert len(plan_shares([], 4)) == 1


def _scored(count: int) -> Any:
    def part(_engine: Engine) -> PartSummary:
        return PartSummary(records_scored=count, by_state={"good": count})

    return part


def _raises(_engine: Engine) -> PartSummary:
    raise RuntimeError("the database went away")


def _killed(_engine: Engine) -> PartSummary:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def test_children_report_what_they_scored(engine: Engine) -> None:
    summaries = run_parts(engine, [_scored(1), _scored(2), _scored(3)])
    assert [s.records_scored for s in summaries] == [1, 2, 3]


@pytest.mark.parametrize(
    ("failing", "message"),
    [(_raises, "exited with status 1"), (_killed, "was killed by signal 9")],
)
def test_a_failed_child_fails_the_run_and_says_how(
    engine: Engine, failing: Any, message: str
) -> None:
    with pytest.raises(ScoringProcessFailed, match=message) as raised:
        run_parts(engine, [_scored(1), failing, _scored(2)])
    assert "keep their previous health" in str(raised.value)
