"""Credentials: none configured, a refused secret, a secret file, a certificate."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from emulator.certs import AppCertificate, create_app_certificate
from emulator.testing import CLIENT_SECRET, FixtureBuilder
from tests import factories as f
from tests.compliance.scan import occurrences
from tests.graph_sync.conftest import ADELE, ALEX, NOW, Exchange
from worker.run.exchange import check_tenant_consent

WRONG_SECRET = "wrong-secret-8d1f0c2b"  # noqa: S105 - a test value the token service refuses
CERTIFICATE = create_app_certificate()


@pytest.fixture
def fixture_builder() -> FixtureBuilder:
    return FixtureBuilder.standard(certificate=CERTIFICATE)


async def test_without_credentials_the_crm_data_is_scored(exchange: Exchange) -> None:
    exchange.unset("tenant_id", "client_id", "client_secret")
    f.email(exchange.engine, sender=ADELE, to=[ALEX], at=dt.datetime(2024, 5, 20, tzinfo=dt.UTC))

    summary = await exchange.tick()

    assert summary.exchange is not None and summary.exchange.state == "not_configured"
    assert "RAPPORT_TENANT_ID" in summary.exchange.reason
    assert exchange.emulator.request_log == []
    assert exchange.kpi("c-alex")["emails_sent"] == 1


async def test_a_refused_secret_is_token_failed_with_the_aadsts_code(
    exchange: Exchange, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    summary = await exchange.tick(client_secret=WRONG_SECRET)

    assert summary.exchange is not None and summary.exchange.state == "token_failed"
    assert "AADSTS7000215" in summary.exchange.reason
    assert exchange.tenant()["consent_state"] == "token_failed"
    assert exchange.mailbox_requests() == []
    logged = "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert "AADSTS7000215" in logged
    for secret in (WRONG_SECRET, CLIENT_SECRET):
        assert secret not in summary.exchange.reason
        assert secret not in logged
        assert secret not in caplog.text
    assert occurrences(exchange.engine, [WRONG_SECRET, CLIENT_SECRET]) == []


async def test_a_token_failure_pauses_without_dropping_synced_data(exchange: Exchange) -> None:
    await exchange.tick()
    f.email(exchange.engine, sender=ADELE, to=[ALEX], at=dt.datetime(2024, 5, 20, tzinfo=dt.UTC))

    summary = await exchange.tick(client_secret=WRONG_SECRET)

    assert summary.exchange is not None and summary.exchange.state == "token_failed"
    assert len(exchange.interaction_keys("exchange")) == 27
    # Adele's mailbox still covers her mail: the CRM copy is not counted on top.
    assert exchange.kpi("c-alex")["emails_sent"] == 12


async def test_a_secret_file_is_read(exchange: Exchange, tmp_path: Path) -> None:
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(CLIENT_SECRET + "\n", encoding="utf-8")
    exchange.unset("client_secret")

    settings = exchange.settings(client_secret_file=secret_file)
    outcome = await check_tenant_consent(exchange.engine, settings, NOW, command="test")

    assert (outcome.state, outcome.probe) == ("granted", "ok")


async def test_an_unreadable_secret_file_is_not_configured(
    exchange: Exchange, tmp_path: Path
) -> None:
    exchange.unset("client_secret")

    summary = await exchange.tick(client_secret_file=tmp_path / "missing")

    assert summary.exchange is not None and summary.exchange.state == "not_configured"
    assert "RAPPORT_CLIENT_SECRET_FILE" in summary.exchange.reason
    assert exchange.tenant()["consent_state"] == "not_configured"


async def test_a_certificate_credential_is_granted(exchange: Exchange, tmp_path: Path) -> None:
    pem = tmp_path / "rapport.pem"
    pem.write_bytes(certificate_pem(CERTIFICATE))
    exchange.unset("client_secret")

    summary = await exchange.tick(client_certificate_path=pem)

    assert summary.exchange is not None and summary.exchange.state == "granted"
    assert len(exchange.interaction_keys("exchange")) == 27


def certificate_pem(certificate: AppCertificate) -> bytes:
    return certificate.combined_pem
