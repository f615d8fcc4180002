"""`rapport worker` with RAPPORT_CRM=dataverse: its /metrics, scraped over HTTP, count the
connector's requests, 429s, retries and rows as the loopback Dataverse saw them."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from crm.dataverse.provision import apply, plan
from emulator.dataverse.testing import running_dataverse, standard_environment
from tests.crm.dataverse.conftest import connector
from tests.worker.service.harness import WORKER, Processes, clean_environment, free_port, http_get

pytestmark = pytest.mark.slow  # a worker process

SAMPLE = re.compile(r'^(\w+)(?:\{outcome="(\w+)"\})? (\S+)$')


def _samples(page: str) -> dict[str, float]:
    """`name` or `name:outcome` -> value, of the page's samples."""
    found = {}
    for line in page.splitlines():
        match = SAMPLE.match(line)
        if match:
            name, outcome, value = match.groups()
            found[f"{name}:{outcome}" if outcome else name] = float(value)
    return found


async def _scoring_event(processes: Processes, timeout: float) -> dict[str, Any]:
    [worker] = processes.started
    for _ in range(int(timeout * 4)):
        if worker.popen.poll() is not None:
            raise AssertionError("\n".join(worker.lines()[-20:]))
        events = worker.events("scoring run")
        if events:
            return events[0]
        await asyncio.sleep(0.25)
    raise AssertionError(f"no scoring run within {timeout:g} s")


async def test_the_dataverse_counters_match_what_the_loopback_dataverse_served(
    tmp_path: Path, database_url: str
) -> None:
    async with running_dataverse(standard_environment(), workdir=tmp_path, seed_value=3) as dv:
        env = clean_environment(
            database_url=database_url,
            tenant_id=dv.tenant_id,
            client_id=dv.client_id,
            client_secret=dv.client_secret,
            authority_host=dv.authority,
            graph_base_url=dv.graph.graph_url,
            dataverse_url=dv.url,
            crm="dataverse",
            auto_migrate="true",
            sync_interval_seconds="60",  # one scoring run in the test's time
            log_format="json",
        )
        env["SSL_CERT_FILE"] = env["REQUESTS_CA_BUNDLE"] = str(dv.ca_pem_path)
        async with connector(dv) as client:  # Rapport's columns, as `dataverse provision`
            await apply(client, await plan(client, "rapport"), None)
        dv.dataverse.reset_stats()
        dv.dataverse.add_fault(kind="throttle", every=4, limit=3, retryAfter=1)
        port = free_port()
        processes = Processes(tmp_path)
        try:
            processes.start("worker", WORKER, {**env, "RAPPORT_METRICS_PORT": str(port)})
            event = await _scoring_event(processes, 90)
            reply = await asyncio.to_thread(http_get, port, "/metrics")
        finally:
            processes.close()
        served = dv.dataverse.stats()

    summary = event["dataverse"]
    costs = [summary["pull_requests"], summary["push_requests"]]
    pulled = summary["pull"]["tables"].values()
    samples = _samples(reply.text)
    assert reply.status_code == 200, reply.text
    assert samples["rapport_dataverse_requests_total"] == served["requests"] > 0
    assert samples["rapport_dataverse_throttled_total"] == served["throttled"] >= 3
    assert samples["rapport_dataverse_retries_total"] == sum(c["retries"] for c in costs) >= 3
    assert samples["rapport_dataverse_throttled_seconds_total"] >= 1.0
    written = sum(table["written"] for table in pulled)
    assert samples["rapport_dataverse_rows_pulled_total:written"] == written > 0
    assert samples["rapport_dataverse_records_pushed_total:pushed"] == summary["push"]["pushed"] > 0
    assert samples["rapport_dataverse_records_pushed_total:failed"] == 0
