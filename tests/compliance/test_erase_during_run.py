"""An erasure committed while a run is in flight leaves nothing of the subject when it ends.

The erase is a real `erase_subject` on its own connection, committed at a
chosen moment of a first `run_once`: when the run is about to execute (or
has just executed) a statement of the stage under test, caught with
SQLAlchemy's cursor events on the run's engine. Each moment is after the
stage read the CRM and the suppression list and before it wrote, so the
stage writes what it derived about the subject from the pre-erase state.
The events are inherited by forked scoring processes, so an erase can be
committed from inside the second scoring process too (PostgreSQL).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from compliance import erase_subject, export_subject, list_audit
from storage.suppression import SUPPRESSION_LOCK_NAMESPACE
from tests import factories as f
from tests.compliance.scan import occurrences
from tests.compliance.scenario import ANA, DANA, LEE, NOW, Person, seed_crm, seed_exchange
from tests.compliance.test_erase import RAPPORT_SECTIONS_AFTER_ERASE
from tests.worker.service.test_jobs import FixedClock
from worker.run.tick import run_once
from worker.service.jobs import Jobs
from worker.service.leases import ReplicaLeases
from worker.service.metrics import ServiceMetrics
from worker.settings import Settings

# A second, unlinked book (its own account, contact and colleague's mail), so
# that two scoring processes each get a share.
KIM = Person("contact", "contact-kim-other-0003", "Kim Other", ("kim.other@northwind.example",))


@dataclass(frozen=True)
class Moment:
    """When to erase: around the `occurrence`-th statement matching `pattern`
    (per process) in `process` (0: the run's own, 1: the forked scorer)."""

    pattern: str
    after: bool = False
    occurrence: int = 1
    process: int = 0


STAGES = {
    # CRM ingest: the directory and suppression list are read, nothing written yet.
    "ingest": Moment(r"SELECT mailbox\.system_user_id, mailbox\.exchange_since", after=True),
    # After the load (CRM snapshot and interactions read), before scoring starts.
    "load": Moment(r"FROM ri_settings"),
    # Write-back: results computed and stored state read, before the first write.
    "write-back": Moment(r"FROM health_snapshot WHERE", after=True),
    # Between two write-back transactions (one record per batch).
    "write-back batch": Moment(r"^\s*UPDATE (contact|account|opportunity|lead)\b", occurrence=2),
    # Introducers ranked from the pre-erase interactions, stored rows read, before writing.
    "introducers": Moment(r"FROM introducer\b", after=True),
}
SUBJECTS = {"contact": DANA, "colleague": ANA}


class EraseAt:
    """Erases `subject` once, at `moment` of the run on `engine`."""

    def __init__(self, engine: Engine, moment: Moment, subject: Person) -> None:
        self.engine, self.moment, self.subject = engine, moment, subject
        self.pattern = re.compile(moment.pattern)
        self.parent = os.getpid()
        self.seen = 0
        self.fired = False
        self.done = False  # the erase committed
        self.hook = "after_cursor_execute" if moment.after else "before_cursor_execute"

    def __enter__(self) -> EraseAt:
        event.listen(self.engine, self.hook, self.on_statement)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, self.hook, self.on_statement)

    def on_statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.fired or (os.getpid() != self.parent) != (self.moment.process == 1):
            return
        if not self.pattern.search(" ".join(statement.split())):
            return
        self.seen += 1
        if self.seen == self.moment.occurrence:
            self.fired = True  # first: the erase's own statements come through here too
            erase_subject(self.engine, self.subject.addresses[0], now=NOW, dry_run=False)
            self.done = True


@pytest.fixture
def crm(engine: Engine) -> Iterator[Engine]:
    """The compliance scenario's CRM and Ana's mailbox, never run yet, plus Kim's book."""
    seed_crm(engine)
    seed_exchange(engine)
    f.account(engine, "account-northwind-0002", "Northwind", primary=KIM.record_id)
    f.contact(engine, KIM.record_id, KIM.addresses[0], KIM.name, "account-northwind-0002")
    bo = "bo.colleague@ours.example"
    for week in range(4):
        f.email(engine, sender=bo, to=[KIM.addresses[0]], at=f.days_ago(7 * week + 2))
        f.email(engine, sender=KIM.addresses[0], to=[bo], at=f.days_ago(7 * week + 1))
    yield engine


def _assert_erased_by_the_end(engine: Engine, subject: Person) -> None:
    erasures = [e for e in list_audit(engine) if e["action"] == "subject_erased"]
    assert len(erasures) == 1, "the erase was committed during the run"
    assert occurrences(engine, subject.needles) == []
    export = export_subject(engine, subject.addresses[0], now=NOW)
    assert all(export.sections[name] == [] for name in RAPPORT_SECTIONS_AFTER_ERASE)
    assert not export.holds_data
    # Everyone else is still scored.
    with engine.connect() as connection:
        scored = set(connection.scalars(sa.text("SELECT record_id FROM relationship_kpi")))
    assert {LEE.record_id, KIM.record_id} <= scored


@pytest.mark.parametrize("subject", SUBJECTS.values(), ids=SUBJECTS.keys())
@pytest.mark.parametrize("stage", STAGES.values(), ids=STAGES.keys())
def test_an_erase_during_a_run_leaves_nothing_when_it_ends(
    crm: Engine, stage: Moment, subject: Person
) -> None:
    batch_size = 1 if stage is STAGES["write-back batch"] else 10_000
    with EraseAt(crm, stage, subject) as erase:
        run_once(crm, now=NOW, batch_size=batch_size)

    assert erase.fired
    _assert_erased_by_the_end(crm, subject)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("process", [0, 1], ids=["first scorer", "second scorer"])
@pytest.mark.parametrize("subject", SUBJECTS.values(), ids=SUBJECTS.keys())
def test_an_erase_during_either_scoring_process_leaves_nothing(
    crm: Engine, process: int, subject: Person
) -> None:
    moment = Moment(r"FROM health_snapshot WHERE", after=True, process=process)
    with EraseAt(crm, moment, subject):
        run_once(crm, now=NOW, processes=2)

    _assert_erased_by_the_end(crm, subject)


def test_an_erase_before_the_run_is_not_audited_again(crm: Engine) -> None:
    erase_subject(crm, DANA.addresses[0], now=NOW, dry_run=False)

    run_once(crm, now=NOW)

    assert [e["action"] for e in list_audit(crm)] == ["subject_erased"]
    assert occurrences(crm, DANA.needles) == []


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_sweep_waits_for_an_erase_whose_deletes_ran_before_the_run_wrote(
    crm: Engine,
) -> None:
    """The interleaving the lock is for (PostgreSQL; on SQLite an erase holds the single
    write lock from its first statement, so the run cannot write meanwhile): the erase
    deletes the subject's party rows, stalls, and the run ingests the subject's CRM
    activities, scores and reaches its final sweep while the erase is still open.
    Released then, the erase commits only after the sweep read the suppression list,
    unless the sweep waits for it."""
    deleted, released = threading.Event(), threading.Event()
    eraser = threading.Thread(
        target=erase_subject, args=(crm, DANA.addresses[0]), kwargs={"now": NOW, "dry_run": False}
    )

    def stall_after_last_party_delete(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        text = " ".join(statement.split())
        if threading.current_thread() is eraser and re.match(
            r"DELETE FROM interaction_party WHERE .*record_type", text
        ):
            deleted.set()
            assert released.wait(30)

    def erase_during_ingest(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if (
            threading.current_thread() is not eraser
            and not eraser.is_alive()
            and ("mailbox.exchange_since" in statement and not deleted.is_set())
        ):
            eraser.start()
            assert deleted.wait(30)

    def release_at_the_sweep(_conn: Any, _cursor: Any, _s: str, params: Any, *_: Any) -> None:
        if isinstance(params, dict) and params.get("namespace") == SUPPRESSION_LOCK_NAMESPACE:
            if threading.current_thread() is not eraser:
                released.set()

    hooks: list[tuple[str, Callable[..., None]]] = [
        ("after_cursor_execute", stall_after_last_party_delete),
        ("after_cursor_execute", erase_during_ingest),
        ("before_cursor_execute", release_at_the_sweep),
    ]
    for name, hook in hooks:
        event.listen(crm, name, hook)
    try:
        run_once(crm, now=NOW)
    finally:
        released.set()
        eraser.join(30)
        for name, hook in hooks:
            event.remove(crm, name, hook)

    assert deleted.is_set() and not eraser.is_alive()
    _assert_erased_by_the_end(crm, DANA)


async def test_the_services_tick_gets_the_same_guarantee(crm: Engine, database_url: str) -> None:
    """The scheduled worker's round and scoring job: an erase during its CRM ingest."""
    clock = FixedClock(NOW)
    settings = Settings(database_url=database_url, tenant_id=None, client_id=None)
    leases = ReplicaLeases(crm, "replica-a", timedelta(seconds=60), clock)
    jobs = Jobs(crm, settings, clock, leases, ServiceMetrics())

    with EraseAt(crm, STAGES["ingest"], DANA) as erase:
        await jobs.sync()
        assert jobs.scoring_task is not None
        await jobs.scoring_task

    assert erase.fired and jobs.metrics.value("rapport_scoring_runs_total", outcome="done") == 1
    _assert_erased_by_the_end(crm, DANA)


def test_a_run_that_fails_after_the_erase_leaves_nothing_either(crm: Engine) -> None:
    """The ingest wrote the subject after the erase, then the run fails: the sweep still runs."""

    failed: list[str] = []

    def fail_after_the_load(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if erase.done and "FROM ri_settings" in statement and not failed:
            failed.append(statement)
            raise RuntimeError("scoring failed")

    with EraseAt(crm, STAGES["ingest"], DANA) as erase:
        event.listen(crm, "before_cursor_execute", fail_after_the_load)
        try:
            with pytest.raises(RuntimeError, match="scoring failed"):
                run_once(crm, now=NOW)
        finally:
            event.remove(crm, "before_cursor_execute", fail_after_the_load)

    assert erase.fired
    assert occurrences(crm, DANA.needles) == []
    assert not export_subject(crm, DANA.addresses[0], now=NOW).holds_data
