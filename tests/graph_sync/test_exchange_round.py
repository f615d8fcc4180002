"""Consent, data residency and a first delta sync, end to end against the emulator."""

from __future__ import annotations

from tests.graph_sync.conftest import ADELE, BEN, Exchange


async def test_baseline_reads_metadata_of_allowed_mailboxes(exchange: Exchange) -> None:
    summary = await exchange.tick()

    assert summary.exchange is not None and summary.exchange.state == "granted"
    keys = exchange.interaction_keys("exchange")
    # 12 inbound + 12 outbound emails with Alex and 3 meetings, all in Adele's mailbox.
    assert sum(key.startswith("msg:") for key in keys) == 24
    assert sum(key.startswith("evt:") for key in keys) == 3
    mailboxes = {row["id"]: row for row in exchange.rows("mailbox")}
    adele, ben = mailboxes[exchange.user_id(ADELE)], mailboxes[exchange.user_id(BEN)]
    assert adele["status"] == "ok" and adele["system_user_id"] == "u-adele"
    assert ben["status"] == "location_excluded"
    assert "DEU" in ben["decision_reason"]


async def test_an_excluded_mailbox_is_never_requested(exchange: Exchange) -> None:
    await exchange.tick()

    ben = exchange.user_id(BEN)
    log = exchange.emulator.request_log
    assert log, "the emulator saw requests"
    assert not [entry for entry in log if entry.mailbox == ben]
    assert [entry for entry in log if entry.mailbox == exchange.user_id(ADELE)]


async def test_the_relationship_is_scored_from_exchange(exchange: Exchange) -> None:
    await exchange.tick()

    with exchange.engine.connect() as connection:
        import sqlalchemy as sa

        kpi = connection.execute(
            sa.text(
                "SELECT emails_sent, emails_received, meetings_sent FROM relationship_kpi "
                "WHERE record_type = 'contact' AND record_id = 'c-alex'"
            )
        ).one()
    assert tuple(kpi) == (12, 12, 3)


async def test_a_second_round_changes_nothing(exchange: Exchange) -> None:
    await exchange.tick()
    before = exchange.rows("interaction"), exchange.rows("interaction_party")

    summary = await exchange.tick()

    assert summary.exchange is not None and summary.exchange.tenant is not None
    counters = summary.exchange.tenant.mailboxes[0].counters
    assert (counters.added, counters.updated, counters.removed) == (0, 0, 0)
    assert (exchange.rows("interaction"), exchange.rows("interaction_party")) == before


async def test_an_interactive_backfill_hears_of_each_mailbox(exchange: Exchange) -> None:
    from tests.graph_sync.conftest import NOW
    from worker.run.exchange import exchange_round

    heard: list[tuple[str, int, int | None]] = []

    await exchange_round(
        exchange.engine,
        exchange.settings(),
        NOW,
        enabled=True,
        progress=lambda stage, done, total: heard.append((stage, done, total)),
    )

    assert heard == [("exchange mailboxes", 1, 1)]  # Adele; Ben's mailbox is not read


async def test_an_interactive_run_reports_mailbox_progress(exchange: Exchange) -> None:
    from tests.graph_sync.conftest import NOW
    from worker.run.tick import run_tick

    seen: list[tuple[str, int, int | None]] = []
    await run_tick(
        exchange.engine,
        exchange.settings(),
        now=NOW,
        progress=lambda stage, done, total: seen.append((stage, done, total)),
    )

    # Adele's is the one mailbox to sync (Ben's residency is excluded).
    assert ("exchange mailboxes", 1, 1) in seen
