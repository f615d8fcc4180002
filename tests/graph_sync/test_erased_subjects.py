"""Durable erasure on the Exchange path: mailboxes still hold the mail, nothing comes back."""

from __future__ import annotations

from compliance import erase_subject
from tests.compliance.scan import occurrences
from tests.graph_sync.conftest import ADELE, ALEX, NOW, Exchange


async def test_an_erased_customer_is_dropped_from_mail_read_again(exchange: Exchange) -> None:
    await exchange.tick()
    assert exchange.kpi("c-alex")["emails_received"] == 12
    erase_subject(exchange.engine, ALEX, now=NOW, dry_run=False)

    exchange.forget_sync()  # a re-baseline reads all of Adele's mail again
    await exchange.tick()

    assert exchange.mailbox(ADELE)["status"] == "ok"
    assert exchange.interaction_keys() == set()  # Alex was the only customer on all of it
    assert occurrences(exchange.engine, (ALEX, "c-alex", "Alex Wilber")) == []


async def test_an_erased_colleague_is_not_listed_nor_read_again(exchange: Exchange) -> None:
    await exchange.tick()
    adele_id = exchange.user_id(ADELE)
    erase_subject(exchange.engine, ADELE, now=NOW, dry_run=False)
    read_before = len(exchange.mailbox_requests(ADELE))

    await exchange.tick()

    assert len(exchange.mailbox_requests(ADELE)) == read_before
    assert adele_id not in {row["id"] for row in exchange.rows("mailbox")}
    assert occurrences(exchange.engine, (ADELE, "u-adele", "Adele Vance", adele_id)) == []
    # Her customer keeps the history she took part in.
    assert exchange.kpi("c-alex")["emails_received"] == 12
