"""The worker service with RAPPORT_CRM=dataverse: its scheduled scoring job pulls from the
loopback Dataverse, scores and pushes the health back, run after run (a real `rapport
worker` process, both databases)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crm.dataverse.provision import apply, plan
from emulator.dataverse.testing import LoopbackDataverse, rid
from tests.crm.dataverse.conftest import connector, worker_environment
from tests.worker.service.harness import WORKER, Process, Processes, http_get

DORA = rid("contact", "dora")


async def _scoring_runs(worker: Process, count: int, timeout: float) -> list[dict[str, Any]]:
    """The first `count` "scoring run" events the worker logs (waiting asynchronously: the
    loopback Dataverse is served by this test's event loop)."""
    for _ in range(int(timeout * 4)):
        if worker.popen.poll() is not None:
            raise AssertionError("\n".join(worker.lines()[-20:]))
        runs = [event for event in worker.events("scoring run") if event.get("dataverse")]
        if len(runs) >= count:
            return runs[:count]
        await asyncio.sleep(0.25)
    raise AssertionError(f"fewer than {count} scoring runs within {timeout:g} s")


def _health_state(database_url: str, contact_id: str) -> Any:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            query = sa.text("select health_state from contact where id = :id")
            return connection.execute(query, {"id": contact_id}).scalar()
    finally:
        engine.dispose()


async def test_the_scheduled_scoring_job_pulls_scores_and_pushes_run_after_run(
    tmp_path: Path, dv: LoopbackDataverse, database_url: str
) -> None:
    env = worker_environment(
        dv,
        database_url,
        crm="dataverse",
        sync_interval_seconds="3600",  # the sync round runs once, at start
        scoring_interval_seconds="2",  # then the scheduled scoring job, every 2 s
    )
    async with connector(dv) as client:  # Rapport's columns, as `dataverse provision`
        await apply(client, await plan(client, "rapport"), None)
    dv.dataverse.clear_writes()
    processes = Processes(tmp_path)
    try:
        worker = processes.start("worker", WORKER, env)
        [first] = await _scoring_runs(worker, 1, 90)
        # A contact created in Dataverse after that run reaches a later scheduled run.
        dv.dataverse.add_row(
            "contacts",
            {
                "contactid": DORA,
                "fullname": "Dora Park",
                "emailaddress1": "dora@fabrikam.com",
                "parentcustomerid_account@odata.bind": f"/accounts({rid('account', 'fabrikam')})",
            },
        )
        for _ in range(120):
            if dv.dataverse.row("contacts", DORA)["rapport_healthstate"] is not None:
                break
            await asyncio.sleep(0.25)
        runs = await _scoring_runs(worker, 2, 30)
        # Its metrics on the free port the environment gave it (never the shared 9464).
        port = int(env["RAPPORT_METRICS_PORT"])
        metrics = await asyncio.to_thread(http_get, port, "/metrics")
    finally:
        processes.close()

    assert port != 9464 and "rapport_dataverse_requests_total" in metrics.text
    summary = first["dataverse"]
    assert "failure" not in summary, summary
    assert summary["pull"]["tables"]["contacts"]["mode"] == "baseline"
    assert summary["pull"]["tables"]["emails"]["written"] == 1
    assert summary["push"]["pushed"] > 0 and summary["push"]["failed"] == 0
    writes = dv.dataverse.writes()
    assert writes and all(c.startswith("rapport_") for w in writes for c in w["columns"])
    for contact in (rid("contact", "alex"), DORA):  # what was scored is what Dataverse shows
        pushed = dv.dataverse.row("contacts", contact)["rapport_healthstate"]
        assert pushed is not None and pushed == _health_state(database_url, contact)
    later = [run["dataverse"] for run in runs[1:]] + [
        event["dataverse"]
        for event in worker.events("scoring run")[2:]
        if event.get("dataverse") and "pull" in event["dataverse"]
    ]
    delta = [run for run in later if run["pull"]["tables"]["contacts"]["written"] == 1]
    assert delta and delta[0]["pull"]["tables"]["contacts"]["mode"] == "delta"
    assert delta[0]["push"]["pushed"] >= 1  # Dora, and the records her arrival changed
