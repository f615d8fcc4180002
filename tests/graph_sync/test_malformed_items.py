"""One malformed item in a page is skipped, counted and logged without its content."""

from __future__ import annotations

import logging

import pytest

from emulator.testing import CANARY
from tests.graph_sync.conftest import ALEX, EXCHANGE_TABLES, Exchange


@pytest.mark.parametrize(
    ("path_kind", "malformed", "prefix"),
    [("messages", "from", "msg:"), ("messages", "date", "msg:"), ("calendar", "date", "evt:")],
)
async def test_the_rest_of_the_page_is_stored(
    exchange: Exchange,
    caplog: pytest.LogCaptureFixture,
    path_kind: str,
    malformed: str,
    prefix: str,
) -> None:
    exchange.emulator.add_fault(kind="malformed", path_kind=path_kind, malformed=malformed, limit=1)
    caplog.set_level(logging.INFO, logger="rapport")

    summary = await exchange.tick()

    assert summary.exchange is not None and summary.exchange.tenant is not None
    [mailbox] = summary.exchange.tenant.mailboxes
    assert mailbox.status == "ok" and mailbox.counters.malformed == 1
    stored = exchange.interaction_keys("exchange")
    exchange.forget_sync()
    exchange.emulator.clear_faults()
    await exchange.tick()
    clean = exchange.interaction_keys("exchange")
    [skipped] = clean - stored
    assert skipped.startswith(prefix) and stored < clean
    [warning] = [r for r in caplog.records if r.getMessage() == "skipped a malformed Graph item"]
    logged = f"{warning.getMessage()} {warning.fields}"  # type: ignore[attr-defined]
    assert {"mailbox", "folder", "position", "error"} <= set(warning.fields)  # type: ignore[attr-defined]
    for content in (CANARY, ALEX, "@", skipped.removeprefix(prefix)):
        assert content not in logged


async def test_the_malformed_count_reaches_the_run_summary(exchange: Exchange) -> None:
    from worker.cli.commands import summary_payload

    exchange.emulator.add_fault(kind="malformed", path_kind="messages", limit=2)

    payload = summary_payload(await exchange.tick())

    assert payload["exchange"]["malformed_items"] == 2
    assert len(exchange.dump(*EXCHANGE_TABLES)["interaction"]) == 27 - 2
