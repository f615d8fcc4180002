"""What `rapport run --once` says after an Exchange round, and the code it exits with.

Exchange and the CRM are reported apart (the CRM counters never cover what
Exchange stored), failures come first, and a run whose Exchange sync failed for
every mailbox it tried (or before any) exits 5 with the reason on its first
line. Each command runs as from a shell (in a worker thread: the emulator
serves from the test's event loop), on both databases.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.graph_sync.conftest import NOW, Exchange
from tests.worker.cli_runner import Outcome, run_cli

EXIT_EXCHANGE_FAILED = 5  # README: 5, the Exchange sync failed for every mailbox


async def rapport(capsys: pytest.CaptureFixture[str], *args: str) -> Outcome:
    now = NOW.isoformat()
    return await asyncio.to_thread(run_cli, capsys, "run", "--once", "--now", now, *args)


async def test_a_first_sync_reports_exchange_and_crm_apart(
    exchange: Exchange, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = await rapport(capsys)

    assert ran.code == 0, ran.err
    stored = len(exchange.interaction_keys("exchange"))
    assert stored > 0
    lines = ran.out.splitlines()
    assert lines[0] == "Exchange mailboxes: 0 failed, 1 synced, 1 excluded (1 location_excluded)"
    assert lines[1] == f"Exchange interactions: added {stored}, changed 0, removed 0"
    assert lines[2] == "CRM activities read: 0; added 0, changed 0, removed 0"
    assert lines[3] == f"interactions stored: {stored}"


async def test_mailboxes_of_unknown_residency_come_with_the_setting_to_set(
    exchange: Exchange, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange.unset("tenant_data_location")

    ran = await rapport(capsys)

    assert ran.code == 0, ran.err  # nothing was tried, so nothing failed
    lines = ran.out.splitlines()
    assert lines[0] == "Exchange mailboxes: 0 failed, 0 synced, 2 excluded (2 location_excluded)"
    # Adele has no preferredDataLocation and no tenant default; Ben is in DEU.
    assert lines[1].strip().startswith("1 mailbox excluded (data residency unknown)")
    assert "RAPPORT_TENANT_DATA_LOCATION" in lines[1]


@pytest.mark.parametrize(
    ("path_kind", "why"),
    [
        ("messages", "every mailbox failed (2 throttled); first error: Throttled: HTTP 503"),
        ("users", "the Exchange sync failed before any mailbox was read: Throttled: HTTP 503"),
    ],
)
async def test_a_run_whose_exchange_sync_failed_everywhere_exits_5_and_says_why(
    exchange: Exchange, capsys: pytest.CaptureFixture[str], path_kind: str, why: str
) -> None:
    # Both sellers readable (Ben is in DEU); every mail read (or the directory) unavailable.
    exchange.settings(allowed_data_locations="EUR,DEU", retry_attempts=2)
    exchange.emulator.add_fault(kind="unavailable", path_kind=path_kind, retry_after=0)

    ran = await rapport(capsys)
    as_json = await rapport(capsys, "--json")

    assert (ran.code, as_json.code) == (EXIT_EXCHANGE_FAILED, EXIT_EXCHANGE_FAILED), ran.err
    first = ran.out.splitlines()[0]
    assert first.startswith(f"FAILED: {why}")
    payload = json.loads(as_json.out)
    assert payload["failure"].startswith(why) and payload["exit_code"] == EXIT_EXCHANGE_FAILED
    assert payload["records_scored"] >= 0 and "records scored:" in ran.out  # the CRM path ran


async def test_a_run_with_one_mailbox_read_exits_0_with_the_failures_first(
    exchange: Exchange, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange.settings(allowed_data_locations="EUR,DEU", retry_attempts=2)
    ben = exchange.user_id("ben@contoso.com")
    exchange.emulator.add_fault(
        kind="unavailable", path_kind="messages", mailbox=ben, retry_after=0
    )

    ran = await rapport(capsys)

    assert ran.code == 0, ran.err
    first = ran.out.splitlines()[0]
    assert first == "Exchange mailboxes: 1 failed (1 throttled), 1 synced, 0 excluded"
    assert "FAILED" not in ran.out
