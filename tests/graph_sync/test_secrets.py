"""Secrets (client secret, access tokens) never reach the logs or the database."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from emulator.testing import CLIENT_SECRET
from tests.compliance.scan import occurrences
from tests.graph_sync.conftest import Exchange

WRONG_SECRET = "not-the-secret-5e2a91"  # noqa: S105 - a test value the token service refuses


def capture_tokens(exchange: Exchange) -> list[str]:
    """Every access token the emulator issues during the test."""
    issued: list[str] = []
    issue = exchange.emulator.tokens.issue

    def recording_issue(*args: Any, **kwargs: Any) -> dict[str, Any]:
        reply = issue(*args, **kwargs)
        issued.append(reply["access_token"])
        return reply

    exchange.monkeypatch.setattr(exchange.emulator.tokens, "issue", recording_issue)
    return issued


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    lines = [caplog.text]
    for record in caplog.records:
        lines.append(f"{record.getMessage()} {record.args!r} {getattr(record, 'fields', '')}")
        if record.exc_info and record.exc_info[1] is not None:
            lines.append(repr(record.exc_info[1]))
    return "\n".join(lines)


async def test_a_full_tick_logs_no_secret(
    exchange: Exchange, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = capture_tokens(exchange)
    caplog.set_level(logging.DEBUG)
    exchange.emulator.add_fault(kind="throttle", every=4, retry_after=1)  # retries log too

    summary = await exchange.tick()

    assert summary.exchange is not None and summary.exchange.state == "granted"
    assert len(tokens) >= 2 and len(caplog.records) > 10
    logged = everything_logged(caplog)
    for secret in (CLIENT_SECRET, *tokens, *(token.split(".")[2] for token in tokens)):
        assert secret not in logged
    assert occurrences(exchange.engine, [CLIENT_SECRET, *tokens]) == []


async def test_a_token_failure_logs_no_secret(
    exchange: Exchange, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    summary = await exchange.tick(client_secret=WRONG_SECRET)

    assert summary.exchange is not None and summary.exchange.state == "token_failed"
    logged = everything_logged(caplog)
    assert "AADSTS7000215" in logged
    assert WRONG_SECRET not in logged and CLIENT_SECRET not in logged
    assert WRONG_SECRET not in summary.exchange.reason
    assert occurrences(exchange.engine, [WRONG_SECRET, CLIENT_SECRET]) == []


def test_settings_and_credentials_hide_the_secret(exchange: Exchange) -> None:
    from worker.run.exchange import graph_app

    settings = exchange.settings()
    app = graph_app(settings)

    assert CLIENT_SECRET not in repr(settings) and CLIENT_SECRET not in str(settings)
    assert app is not None and CLIENT_SECRET not in repr(app)
