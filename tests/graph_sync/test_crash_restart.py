"""A worker killed between pages, then restarted, ends in exactly the rows of a clean run."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from urllib.parse import parse_qs, urlsplit

import pytest

from emulator.stats import LogEntry
from emulator.testing import FixtureBuilder
from tests.graph_sync.conftest import ADELE, ALEX, EXCHANGE_TABLES, NOW, Exchange

pytestmark = pytest.mark.slow  # a sync process killed and restarted

START = dt.datetime(2024, 4, 1, 8, tzinfo=dt.UTC)
BULK = 80  # added to the standard inbox's 12: ten pages of ten
INBOX_PAGES = 10
KILL_AT_PAGE = 4


@pytest.fixture
def fixture_builder() -> FixtureBuilder:
    return FixtureBuilder.standard().inbox_burst(ADELE, ALEX, BULK, START)


async def run_until_killed(exchange: Exchange, inbox_id: str) -> int:
    """`rapport run --once` in a child process, SIGKILLed at the KILL_AT_PAGE-th inbox page."""
    exchange.settings(page_size=10)
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from worker.cli.rapport import main; main()",
        "run",
        "--once",
        "--now",
        NOW.isoformat(),
        "--json",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    inbox_pages: list[LogEntry] = []

    def kill(entry: LogEntry) -> None:
        if inbox_id in entry.path and entry.path_kind == "messages":
            inbox_pages.append(entry)
            if len(inbox_pages) == KILL_AT_PAGE:
                worker.kill()

    exchange.after_request(kill)
    code = await asyncio.wait_for(worker.wait(), timeout=30)
    exchange._hooks.clear()
    return code


async def test_a_killed_sync_resumes_to_the_rows_of_a_clean_run(exchange: Exchange) -> None:
    inbox_id = exchange.emulator.state.mailbox(ADELE).folder("inbox").spec.id

    code = await run_until_killed(exchange, inbox_id)

    assert code == -9, "the worker was killed mid-round"
    assert exchange.mailbox(ADELE)["status"] == "syncing"
    [inbox_cursor] = [c for c in exchange.rows("sync_cursor") if c["folder_id"] == inbox_id]
    assert inbox_cursor["next_link"] and not inbox_cursor["delta_link"]
    committed = len(exchange.rows("interaction_sighting"))
    assert 0 < committed < BULK + 27

    exchange.requests.clear()
    await exchange.tick(page_size=10)

    assert exchange.mailbox(ADELE)["status"] == "ok"
    inbox_requests = [r for r in exchange.requests if inbox_id in r.path and "delta" in r.path]
    # Resumed at the committed link: the pages before it are not read again.
    committed_token = parse_qs(urlsplit(inbox_cursor["next_link"]).query)["$skiptoken"][0]
    assert inbox_requests[0].query.get("$skiptoken") == committed_token
    assert len(inbox_requests) < INBOX_PAGES
    restarted = exchange.dump(*EXCHANGE_TABLES)
    exchange.forget_sync()
    await exchange.tick(page_size=10)
    assert restarted == exchange.dump(*EXCHANGE_TABLES)
    assert len(restarted["interaction"]) == BULK + 27
