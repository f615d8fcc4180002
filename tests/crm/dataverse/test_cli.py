"""`rapport dataverse check|provision|pull|push` and `run --once` with RAPPORT_CRM=dataverse,
as an admin runs them: the loopback Dataverse over HTTPS, both databases. Most calls run the
command in-process, as the console script does (tests/worker/cli_runner.py), in a thread so
that this test's event loop keeps serving the loopback Dataverse; one call per behaviour that
needs it (exit codes and output of a real process) starts a real `rapport` process."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import pytest
import sqlalchemy as sa

from emulator.dataverse.testing import LoopbackDataverse, rid
from emulator.testing import trust_emulator_ca
from tests.worker.cli_runner import run_cli

RAPPORT = [sys.executable, "-c", "from worker.cli.rapport import main; main()"]


def environment(dv: LoopbackDataverse, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    env.update(
        RAPPORT_DATABASE_URL=database_url,
        RAPPORT_TENANT_ID=dv.tenant_id,
        RAPPORT_CLIENT_ID=dv.client_id,
        RAPPORT_CLIENT_SECRET=dv.client_secret,
        RAPPORT_AUTHORITY_HOST=dv.authority,
        RAPPORT_DATAVERSE_URL=dv.url,
        RAPPORT_GRAPH_BASE_URL=dv.graph.graph_url,
        SSL_CERT_FILE=str(dv.ca_pem_path),
        REQUESTS_CA_BUNDLE=str(dv.ca_pem_path),
    )
    env.update(extra)
    return env


async def rapport(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *RAPPORT, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


class InProcess:
    """`rapport` run in this process with the environment `env` (as `rapport(env, ...)`)."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
        self.capsys, self.monkeypatch = capsys, monkeypatch

    async def __call__(self, env: dict[str, str], *args: str) -> tuple[int, str, str]:
        with self.monkeypatch.context() as patch:
            for name in [name for name in os.environ if name.startswith("RAPPORT_")]:
                patch.delenv(name)
            for name, value in env.items():
                if os.environ.get(name) != value:
                    patch.setenv(name, value)
            ran = await asyncio.to_thread(run_cli, self.capsys, *args)
        return ran.code, ran.out, ran.err


@pytest.fixture
def cli(
    dv: LoopbackDataverse, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> InProcess:
    trust_emulator_ca(monkeypatch, dv.graph)  # aiohttp's context, built before the env is set
    return InProcess(capsys, monkeypatch)


async def test_check_provision_pull_push_from_the_command_line(
    dv: LoopbackDataverse, database_url: str, cli: InProcess
) -> None:
    env = environment(dv, database_url)
    code, out, err = await rapport(env, "dataverse", "check", "--json")  # a real process
    assert code == 3, err
    assert len(json.loads(out)["missing"]) == 4  # Rapport's columns, on four tables
    assert dv.client_secret not in out + err
    code, out, _ = await cli(env, "dataverse", "provision", "--dry-run", "--json")
    assert code == 0 and json.loads(out)["created"] == []
    assert {c["action"] for c in json.loads(out)["plan"]} == {"create"}
    code, out, _ = await cli(env, "dataverse", "provision", "--json")
    assert code == 0 and len(json.loads(out)["created"]) == 24
    code, out, err = await cli(env, "dataverse", "check")
    assert code == 0 and "ready" in out, out + err
    code, out, _ = await cli(env, "dataverse", "pull", "--json")
    assert code == 0 and json.loads(out)["tables"]["contacts"]["written"] == 3
    for stream in (out, err):
        assert dv.client_secret not in stream


async def test_a_run_with_the_dataverse_crm_pulls_scores_and_pushes(
    dv: LoopbackDataverse, database_url: str, cli: InProcess
) -> None:
    env = environment(dv, database_url, RAPPORT_CRM="dataverse")
    assert (await cli(env, "dataverse", "provision"))[0] == 0
    dv.dataverse.clear_writes()
    code, out, err = await cli(env, "run", "--once", "--json")
    assert code == 0, err
    summary: dict[str, Any] = json.loads(out)["dataverse"]
    assert summary["pull"]["tables"]["emails"]["written"] == 1
    pushed = summary["push"]["pushed"]
    assert pushed > 0 and summary["push_requests"]["requests"] <= 4
    writes = dv.dataverse.writes()
    assert len({(w["table"], w["id"]) for w in writes}) == pushed
    assert all(c.startswith("rapport_") for w in writes for c in w["columns"])
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            score = connection.execute(
                sa.text("select health_state from contact where id = :id"),
                {"id": rid("contact", "alex")},
            ).scalar()
    finally:
        engine.dispose()
    assert dv.dataverse.row("contacts", rid("contact", "alex"))["rapport_healthstate"] == score
    assert dv.client_secret not in out + err


async def test_configuration_errors_are_one_line_exit_2(
    dv: LoopbackDataverse, database_url: str, cli: InProcess
) -> None:
    env = environment(dv, database_url, RAPPORT_DATAVERSE_URL="http://crm.example.com")
    code, out, err = await rapport(env, "dataverse", "check")  # a real process
    assert code == 2 and "RAPPORT_DATAVERSE_URL" in err and len(err.strip().splitlines()) == 1
    env = environment(dv, database_url, RAPPORT_DATAVERSE_PREFIX="mscrmx")
    code, out, err = await cli(env, "dataverse", "pull")
    assert code == 2 and "RAPPORT_DATAVERSE_PREFIX" in err


async def test_switching_the_connector_off_clears_its_values_unless_kept(
    dv: LoopbackDataverse, database_url: str, cli: InProcess
) -> None:
    alex = rid("contact", "alex")
    on = environment(dv, database_url, RAPPORT_CRM="dataverse")
    assert (await cli(on, "dataverse", "provision"))[0] == 0
    assert (await cli(on, "run", "--once"))[0] == 0
    state = dv.dataverse.row("contacts", alex)["rapport_healthstate"]
    assert state is not None
    kept = environment(dv, database_url, RAPPORT_DATAVERSE_KEEP_LAST_VALUES="true")
    code, out, err = await cli(kept, "run", "--once", "--json")
    assert code == 0 and json.loads(out)["dataverse"] is None, err
    assert dv.dataverse.row("contacts", alex)["rapport_healthstate"] == state
    off = environment(dv, database_url)
    code, out, err = await cli(off, "run", "--once", "--json")
    assert code == 0, err
    assert json.loads(out)["dataverse"]["switched_off"]["push"]["cleared"] > 0
    assert dv.dataverse.row("contacts", alex)["rapport_healthstate"] is None


async def test_an_environment_the_token_service_does_not_know_is_not_ready(
    dv: LoopbackDataverse, database_url: str, cli: InProcess
) -> None:
    env = environment(dv, database_url, RAPPORT_DATAVERSE_URL="https://127.0.0.1:1")
    code, out, err = await cli(env, "dataverse", "check", "--json")
    assert code == 3, err
    [missing] = json.loads(out)["missing"]
    assert missing["check"] == "token" and "https://127.0.0.1:1/.default" in missing["detail"]
    assert "RAPPORT_CLIENT_ID" in missing["fix"]
