"""Push: only records whose health changed, only Rapport's columns, in batches; deleted
records skipped and reported; a failed batch retried by the next run; erased subjects
cleared (the emulator's write log proves what was written)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm.dataverse.client import DataverseClient
from crm.dataverse.columns import logical_names
from crm.dataverse.provision import apply, plan
from crm.dataverse.pull import Puller
from crm.dataverse.push import Pusher, PushReport
from crm.dataverse.retry import RetryPolicy
from emulator.dataverse.testing import LoopbackDataverse, rid
from tests.crm.dataverse.conftest import PREFIX

NOW = datetime.now(UTC)
RAPPORT_COLUMNS = set(logical_names(PREFIX).values())


async def prepared(client: DataverseClient, engine: Engine) -> None:
    await apply(client, await plan(client, PREFIX), None)
    await Puller(client, engine, now=NOW).pull()


def score(engine: Engine, table: str, record_id: str, value: int, state: int = 0) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                f"update {table} set health_score = :v, health_state = :s, health_trend = 1, "
                "health_updated_at = :at where id = :id"
            ),
            {"v": value, "s": state, "at": NOW, "id": record_id},
        )


async def push(client: DataverseClient, engine: Engine, batch_size: int = 100) -> PushReport:
    return await Pusher(client, engine, prefix=PREFIX, now=NOW, batch_size=batch_size).push()


def written(dv: LoopbackDataverse) -> list[dict[str, Any]]:
    return [w for w in dv.dataverse.writes() if not w.get("rolledBack")]


async def test_push_writes_only_changed_records_and_only_rapport_columns(
    client: DataverseClient, dv: LoopbackDataverse, engine: Engine
) -> None:
    await prepared(client, engine)
    alex, bea = rid("contact", "alex"), rid("contact", "bea")
    deal = rid("opportunity", "fabrikam-renewal")
    for table, record, value in (
        ("contact", alex, 71),
        ("contact", bea, 35),
        ("opportunity", deal, 52),
    ):
        score(engine, table, record, value)
    dv.dataverse.clear_writes()
    report = await push(client, engine)
    assert (report.pushed, report.batches) == (3, 2)  # one UpdateMultiple per table
    log = written(dv)
    assert {(w["table"], w["id"]) for w in log} == {
        ("contacts", alex),
        ("contacts", bea),
        ("opportunities", deal),
    }
    assert all(set(w["columns"]) <= RAPPORT_COLUMNS for w in log)
    assert dv.dataverse.row("contacts", alex)["rapport_healthscore"] == 71
    assert dv.dataverse.row("contacts", alex)["rapport_healthupdatedat"] == NOW.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    # Nothing changed: nothing sent.
    dv.dataverse.clear_writes()
    again = await push(client, engine)
    assert (again.pushed, again.batches, written(dv)) == (0, 0, [])
    # One record changes: only it goes out.
    score(engine, "contact", bea, 20, state=2)
    third = await push(client, engine)
    assert third.pushed == 1 and [(w["table"], w["id"]) for w in written(dv)] == [("contacts", bea)]


async def test_a_record_deleted_in_dataverse_is_skipped_and_reported(
    client: DataverseClient, dv: LoopbackDataverse, engine: Engine
) -> None:
    await prepared(client, engine)
    alex, bea = rid("contact", "alex"), rid("contact", "bea")
    score(engine, "contact", alex, 71)
    score(engine, "contact", bea, 35)
    dv.dataverse.delete_row("contacts", bea)
    report = await push(client, engine)
    assert report.pushed == 1 and report.missing == [f"contact {bea}"]
    assert dv.dataverse.row("contacts", alex)["rapport_healthscore"] == 71
    second = await push(client, engine)
    assert second.pushed == 0 and second.missing == []


async def test_a_failed_batch_is_retried_by_the_next_run(
    dv: LoopbackDataverse, make_client: Callable[..., DataverseClient], engine: Engine
) -> None:
    async with make_client() as client:
        await prepared(client, engine)
    score(engine, "contact", rid("contact", "alex"), 71)
    dv.dataverse.add_fault(kind="unavailable", fraction=1.0, method="POST")
    async with make_client(policy=RetryPolicy(attempts=2)) as client:
        failed = await push(client, engine)
    assert (failed.pushed, failed.failed) == (0, 1)
    dv.dataverse.clear_faults()
    async with make_client() as client:
        retried = await push(client, engine)
    assert retried.pushed == 1
    assert dv.dataverse.row("contacts", rid("contact", "alex"))["rapport_healthscore"] == 71


async def test_batches_are_bounded(
    client: DataverseClient, dv: LoopbackDataverse, engine: Engine
) -> None:
    await prepared(client, engine)
    for name, value in (("alex", 10), ("bea", 20), ("chen", 30)):
        score(engine, "contact", rid("contact", name), value)
    report = await push(client, engine, batch_size=2)
    assert (report.pushed, report.batches) == (3, 2)


async def test_export_lists_what_was_pushed_and_erase_clears_it_for_good(
    client: DataverseClient, dv: LoopbackDataverse, engine: Engine
) -> None:
    from compliance.erase import erase_subject
    from compliance.export import export_subject

    await prepared(client, engine)
    alex = rid("contact", "alex")
    score(engine, "contact", alex, 71)
    score(engine, "contact", rid("contact", "bea"), 35)
    await push(client, engine)
    [pushed] = export_subject(engine, "alex@fabrikam.com", now=NOW).sections["dataverse_pushes"]
    assert (pushed["record_id"], pushed["health_score"], pushed["outcome"]) == (alex, 71, "pushed")
    assert pushed["health_updated_at"] == NOW.strftime("%Y-%m-%dT%H:%M:%SZ")  # also on SQLite

    erase_subject(engine, "alex@fabrikam.com", now=NOW, dry_run=False)
    dv.dataverse.clear_writes()
    cleared = await Pusher(client, engine, prefix=PREFIX, now=NOW).push(only={("contact", alex)})
    assert cleared.cleared == 1
    row = dv.dataverse.row("contacts", alex)
    assert all(row[column] is None for column in RAPPORT_COLUMNS)
    assert dv.dataverse.row("contacts", rid("contact", "bea"))["rapport_healthscore"] == 35
    assert [w["id"] for w in written(dv)] == [alex]
    # A later pull and scoring bring nothing back while the subject stays erased.
    await Puller(client, engine, now=NOW).pull()
    score(engine, "contact", alex, 80)
    await push(client, engine)
    assert dv.dataverse.row("contacts", alex)["rapport_healthscore"] is None
    exported = export_subject(engine, "alex@fabrikam.com", now=NOW).sections["dataverse_pushes"]
    assert all(row["health_score"] is None for row in exported)
