"""What a new IT admin reads from `consent check`, `run --once`, `mailboxes list` and `status`.

Each command runs as from a shell (in a worker thread: the emulator serves from
the test's event loop) against the emulator over HTTPS, on both databases.
The tenant has a colleague with a long address, as real tenants do.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from emulator.testing import FixtureBuilder
from tests import factories as f
from tests.graph_sync.conftest import Exchange
from tests.worker.cli_runner import Outcome, run_cli
from worker.log import OWN_LOGGERS

BARRY = "barry.tycholiz.trading-desk@contoso.com"
SETTING = "RAPPORT_TENANT_DATA_LOCATION"
# `time LEVEL logger: message` as the text log format writes it.
LOG_LINE = re.compile(r"^\S+ \S+ (?P<level>[A-Z]+) (?P<logger>[\w.]+): ")


@pytest.fixture
def fixture_builder() -> FixtureBuilder:
    return FixtureBuilder.standard().user(BARRY, display_name="Barry Tycholiz")


@pytest.fixture
def exchange_with_barry(exchange: Exchange) -> Exchange:
    f.user(exchange.engine, "u-barry", BARRY, "Barry Tycholiz")
    return exchange


async def rapport(capsys: pytest.CaptureFixture[str], *args: str) -> Outcome:
    return await asyncio.to_thread(run_cli, capsys, *args)


def loaded(outcome: Outcome) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(outcome.out)
    return payload


def names_the_residency_setting(text: str) -> bool:
    return SETTING in text and "preferredDataLocation" in text


async def test_without_a_tenant_residency_every_command_names_the_setting(
    exchange_with_barry: Exchange, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange_with_barry.unset("tenant_data_location")

    check, check_json = (
        await rapport(capsys, "consent", "check"),
        await rapport(capsys, "consent", "check", "--json"),
    )
    run = await rapport(capsys, "run", "--once")
    listed, listed_json = (
        await rapport(capsys, "mailboxes", "list"),
        await rapport(capsys, "mailboxes", "list", "--json"),
    )

    assert (check.code, check_json.code, run.code, listed.code) == (0, 0, 0, 0), run.err
    assert names_the_residency_setting(check.out)
    assert names_the_residency_setting(loaded(check_json)["hint"])
    assert "data residency unknown; excluded by policy" in listed.out
    assert names_the_residency_setting(listed.out)
    hint = loaded(listed_json)["hint"]
    assert names_the_residency_setting(hint) and hint.startswith("2 mailboxes excluded")
    status = await rapport(capsys, "status")
    assert "no mailbox may be read now (rapport mailboxes list says why)" in status.out


async def test_with_a_tenant_residency_no_hint_is_given(
    exchange_with_barry: Exchange, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange_with_barry.unset("tenant_data_location")
    await rapport(capsys, "run", "--once")
    exchange_with_barry.settings(tenant_data_location="EUR")

    before_the_next_run = loaded(await rapport(capsys, "mailboxes", "list", "--json"))["hint"]
    check = loaded(await rapport(capsys, "consent", "check", "--json"))
    await rapport(capsys, "run", "--once")
    listed = await rapport(capsys, "mailboxes", "list")

    assert before_the_next_run.endswith(f"{SETTING} is now EUR: the next run decides again")
    assert check["hint"] is None
    assert SETTING not in listed.out and "hint" not in listed.out


async def test_library_request_logs_stay_quiet_unless_debug_is_asked(
    exchange: Exchange, capsys: pytest.CaptureFixture[str]
) -> None:
    quiet = await rapport(capsys, "consent", "check")
    exchange.settings(log_level="DEBUG")
    debug = await rapport(capsys, "consent", "check")

    assert quiet.code == 0 and debug.code == 0
    chatter = [
        line
        for line in quiet.err.splitlines()
        if (found := LOG_LINE.match(line))
        and found["level"] in ("DEBUG", "INFO")
        and found["logger"].partition(".")[0] not in OWN_LOGGERS
    ]
    assert chatter == [] and "Request headers" not in quiet.err
    assert "azure.identity" in debug.err and "Request headers" in debug.err


async def test_status_counts_run_once_rounds(
    exchange: Exchange, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [await rapport(capsys, "run", "--once") for _ in range(3)]
    text, as_json = await rapport(capsys, "status"), await rapport(capsys, "status", "--json")

    assert [run.code for run in runs] == [0, 0, 0], runs[0].err
    assert "none yet" not in text.out
    assert re.search(r"Last sync round: \S+ \(rapport run --once; no worker round yet\)", text.out)
    adele = exchange.mailbox("adele@contoso.com")
    last = loaded(as_json)["last_round"]
    assert last["round"] is None
    assert last["last_mailbox_read_at"] == adele["last_attempt_at"].isoformat()


async def test_piped_tables_never_fold_an_address_or_an_id(
    exchange_with_barry: Exchange,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # what rich assumes when stdout is not a terminal
    await rapport(capsys, "run", "--once")

    listed, status = await rapport(capsys, "mailboxes", "list"), await rapport(capsys, "status")

    [barry] = [line for line in listed.out.splitlines() if BARRY in line]
    assert re.search(rf"^{re.escape(BARRY)}\s+ok\s+EUR\s+\S+ s ago\s+0\s+\S+ s$", barry)
    assert exchange_with_barry.emulator.tenant_id in status.out
