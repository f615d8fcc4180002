"""`rapport run --once` whose Exchange credential Entra refuses (a wrong client secret).

Exchange was meant to be read and nothing could be: the summary's first line says
why, in one line without the secret, and the run exits 5 (README, exit codes), as
for a sync that failed before any mailbox. It used to exit 0. The CRM data is still
scored. Each command runs as from a shell, in a worker thread (the emulator serves
from the test's event loop), on both databases.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.graph_sync import conftest as graph_sync
from tests.graph_sync.conftest import NOW, Exchange
from tests.worker.cli_runner import Outcome, run_cli
from worker.failures import EXIT_EXCHANGE_FAILED

# The emulator-backed store of tests/graph_sync, as fixtures of this module too.
exchange, fixture_builder = graph_sync.exchange, graph_sync.fixture_builder

WRONG_SECRET = "wrong-Secret-4b9e"


async def _run(capsys: pytest.CaptureFixture[str], *args: str) -> Outcome:
    return await asyncio.to_thread(
        run_cli, capsys, "run", "--once", "--now", NOW.isoformat(), *args
    )


async def test_a_wrong_client_secret_exits_5_and_says_why_in_one_line(
    exchange: Exchange, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAPPORT_CLIENT_SECRET", WRONG_SECRET)

    ran = await _run(capsys)
    as_json = await _run(capsys, "--json")

    assert (ran.code, as_json.code) == (EXIT_EXCHANGE_FAILED, EXIT_EXCHANGE_FAILED), ran.err
    first, *rest = ran.out.splitlines()
    assert first.startswith(
        "FAILED: the Exchange sync failed before any mailbox was read: token request failed"
    )
    assert "AADSTS7000215" in first  # what docs/exchange-sync.md tells to look for
    assert not any("token_failed" in line for line in rest)  # said once, by the first line
    assert any(line.startswith("records scored:") for line in rest)  # the CRM path ran
    payload = json.loads(as_json.out)
    # The same line (each run asked Entra anew: its trace ids differ).
    assert payload["failure"].partition("Trace ID")[0] == first[8:].partition("Trace ID")[0]
    assert payload["exit_code"] == EXIT_EXCHANGE_FAILED
    assert payload["exchange"]["state"] == "token_failed"
    for said in (ran.out, ran.err, as_json.out, as_json.err):
        assert WRONG_SECRET not in said


async def test_exchange_not_configured_is_no_failure(
    exchange: Exchange, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAPPORT_CLIENT_ID")

    ran = await _run(capsys)

    assert ran.code == 0, ran.err
    assert ran.out.splitlines()[0].startswith("Exchange not read (not_configured: ")
