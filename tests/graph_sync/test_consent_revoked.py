"""Consent withdrawn while a tick is running: a 403 mid-round, then CRM data only.

Roles are fixed in a token when it is issued, so the role is revoked right
after the consent probe: the sync's own (fresh) token no longer carries it
and the mailbox answers 403.
"""

from __future__ import annotations

import datetime as dt

from emulator.stats import LogEntry
from emulator.testing import CLIENT_ID
from tests import factories as f
from tests.graph_sync.conftest import ADELE, ALEX, Exchange


def revoke_after_probe(exchange: Exchange, role: str) -> None:
    """Revoke `role` once, right after the next consent probe (GET /users)."""
    done: list[bool] = []

    def revoke(entry: LogEntry) -> None:
        if entry.path == "/users" and not done:
            done.append(True)
            exchange.emulator.revoke_role(CLIENT_ID, role)

    exchange.after_request(revoke)


async def test_a_403_mid_round_records_revoked_and_falls_back_to_crm(exchange: Exchange) -> None:
    # One CRM-logged email from Adele, inside the period Exchange covers for her.
    f.email(exchange.engine, sender=ADELE, to=[ALEX], at=dt.datetime(2024, 5, 20, tzinfo=dt.UTC))
    await exchange.tick()
    assert exchange.kpi("c-alex")["emails_sent"] == 12  # Exchange's copies; the CRM one is covered

    revoke_after_probe(exchange, "Mail.ReadBasic.All")
    during = await exchange.tick()

    assert during.exchange is not None and during.exchange.state == "revoked"
    assert "403" in during.exchange.reason and "ErrorAccessDenied" in during.exchange.reason
    tenant = exchange.tenant()
    assert tenant["consent_state"] == "revoked" and "403" in tenant["consent_reason"]
    mailbox = exchange.mailbox(ADELE)
    assert mailbox["status"] == "consent_missing" and "ErrorAccessDenied" in mailbox["last_error"]
    # Withdrawn consent takes the Exchange data with it; the CRM's copy counts instead.
    assert exchange.interaction_keys("exchange") == set()
    assert exchange.rows("interaction_sighting") == [] and exchange.rows("sync_cursor") == []
    assert exchange.kpi("c-alex")["emails_sent"] == 1
    [purged] = exchange.audit("exchange_data_purged")
    assert purged["details"]["interactions_removed"] == 27

    exchange.emulator.reset_stats()
    after = await exchange.tick()

    assert after.exchange is not None and after.exchange.state == "missing"
    assert after.exchange.consent is not None
    assert after.exchange.consent.missing == ["Mail.ReadBasic.All"]
    assert exchange.mailbox_requests() == []
    assert exchange.kpi("c-alex")["emails_sent"] == 1


async def test_consent_granted_again_resyncs_from_scratch(exchange: Exchange) -> None:
    await exchange.tick()
    revoke_after_probe(exchange, "Calendars.ReadBasic.All")
    await exchange.tick()
    assert exchange.interaction_keys("exchange") == set()

    exchange.emulator.grant_role(CLIENT_ID, "Calendars.ReadBasic.All")
    summary = await exchange.tick()

    assert summary.exchange is not None and summary.exchange.state == "granted"
    assert len(exchange.interaction_keys("exchange")) == 27
    assert exchange.mailbox(ADELE)["status"] == "ok"
