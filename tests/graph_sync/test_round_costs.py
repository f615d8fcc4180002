"""What a round does to stay cheap: people matched once, long-lived objects out of GC walks."""

from __future__ import annotations

import gc
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine

import graph_sync.context
import graph_sync.normalise
from graph_sync.normalise import Normaliser
from graph_sync.wire import EmailAddress, Message, Recipient
from storage.directory import Directory, RecordKey
from storage.sync_store import PageCounts, PageWrite, commit_page
from tests.graph_sync.conftest import Exchange


class CountingDirectory(Directory):
    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def match_address(self, address: str | None) -> RecordKey | None:
        self.lookups += 1
        return super().match_address(address)


def message(number: int, sender: str, to: str) -> Message:
    return Message(
        id=f"item-{number}",
        internetMessageId=f"<m{number}@fabrikam.com>",
        sender_=Recipient(EmailAddress(sender)),
        toRecipients=[Recipient(EmailAddress(to))],
        sentDateTime=datetime(2024, 5, 20, 9, tzinfo=UTC),
    )


def normaliser() -> tuple[Normaliser, CountingDirectory]:
    directory = CountingDirectory()
    directory._add("system_user", "u-adele", "adele@contoso.com")
    directory._add("contact", "c-alex", "alex@fabrikam.com")
    return Normaliser(directory, frozenset({"contoso.com"})), directory


def test_each_address_is_matched_once_per_round() -> None:
    normalise, directory = normaliser()

    records = [
        normalise.message(message(n, "alex@fabrikam.com", "adele@contoso.com")) for n in range(50)
    ]

    assert directory.lookups == 2
    assert all(record is not None for record in records)
    first = records[0]
    assert first is not None and {party.record_id for party in first.parties} == {
        "c-alex",
        "u-adele",
    }


def test_the_memo_of_parties_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph_sync.normalise, "PARTY_MEMO_LIMIT", 10)
    normalise, _ = normaliser()

    for n in range(100):  # strangers: unmatched addresses, all different
        normalise.message(message(n, f"stranger{n}@example.com", "adele@contoso.com"))

    assert len(normalise._parties) <= 10


async def test_long_lived_objects_are_frozen_during_the_round_only(
    exchange: Exchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen_while_committing: list[int] = []

    def watched(engine: Engine, page: PageWrite) -> PageCounts:
        frozen_while_committing.append(gc.get_freeze_count())
        return commit_page(engine, page)

    monkeypatch.setattr(graph_sync.context, "commit_page", watched)
    before = gc.get_freeze_count()

    await exchange.tick()

    assert frozen_while_committing and min(frozen_while_committing) > before
    assert gc.get_freeze_count() == before
