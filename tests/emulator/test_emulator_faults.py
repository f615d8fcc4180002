"""Injected faults, per-mailbox concurrency, and the counters tests read."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.app import Emulator
from emulator.testing import FixtureBuilder, fetch_token, running_emulator

ADELE = "adele@contoso.com"
BEN = "ben@contoso.com"
INBOX_DELTA = f"/users/{ADELE}/mailFolders/inbox/messages/delta"


async def test_throttle_every_nth_request(graph: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.add_fault(kind="throttle", every=3, retry_after=7)
    statuses = [(await graph.get(INBOX_DELTA)).status_code for _ in range(6)]
    assert statuses == [200, 200, 429, 200, 200, 429]
    throttled = await graph.get("/users")
    assert throttled.status_code == 200
    emulator.clear_faults()
    emulator.add_fault(kind="throttle", every=1, retry_after=7)
    reply = await graph.get(INBOX_DELTA)
    assert reply.headers["Retry-After"] == "7"
    assert reply.json()["error"]["code"] == "ApplicationThrottled"
    assert emulator.stats.throttled == 3


async def _statuses_with_seed(tmp_path: Path, seed: int) -> list[int]:
    async with running_emulator(
        FixtureBuilder.standard().build(), workdir=tmp_path, seed=seed
    ) as em:
        em.add_fault(kind="throttle", probability=0.4)
        token = await fetch_token(em)
        async with httpx.AsyncClient(
            base_url=em.graph_url, headers={"Authorization": f"Bearer {token}"}
        ) as c:
            return [(await c.get(INBOX_DELTA)).status_code for _ in range(20)]


async def test_probabilistic_throttling_is_reproducible(tmp_path: Path) -> None:
    first = await _statuses_with_seed(tmp_path / "a", 11)
    again = await _statuses_with_seed(tmp_path / "b", 11)
    assert first == again and 429 in first and 200 in first


async def test_fifth_concurrent_request_to_a_mailbox_is_throttled(
    graph: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.add_fault(kind="latency", latency_ms=300, path_kind="messages")
    replies = await asyncio.gather(*(graph.get(INBOX_DELTA) for _ in range(6)))
    throttled = [r for r in replies if r.status_code == 429]
    assert len(throttled) == 2 and sum(r.status_code == 200 for r in replies) == 4
    assert "MailboxConcurrency" in throttled[0].json()["error"]["message"]
    assert throttled[0].json()["error"]["code"] == "ApplicationThrottled"
    assert "Retry-After" in throttled[0].headers
    user_id = next(u.id for u in emulator.fixture.users if u.properties["mail"] == ADELE)
    assert emulator.stats.peak_concurrency[user_id] >= 5
    assert emulator.stats.concurrency_violations == 2
    # Other mailboxes are independent.
    other = await asyncio.gather(*(graph.get(f"/users/{BEN}/mailFolders") for _ in range(4)))
    assert all(r.status_code == 200 for r in other)


@pytest.mark.parametrize(("kind", "status"), [("unavailable", 503), ("gateway_timeout", 504)])
async def test_transient_server_errors(
    graph: httpx.AsyncClient, emulator: Emulator, kind: str, status: int
) -> None:
    emulator.add_fault(kind=kind, limit=1)
    assert (await graph.get(INBOX_DELTA)).status_code == status
    assert (await graph.get(INBOX_DELTA)).status_code == 200


async def test_latency_fixed_plus_jitter(graph: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.add_fault(kind="latency", latency_ms=120, jitter_ms=30)
    started = time.perf_counter()
    assert (await graph.get("/users")).status_code == 200
    assert 0.12 <= time.perf_counter() - started < 1.0


async def test_connection_reset(graph: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.add_fault(kind="reset", limit=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        await graph.get(INBOX_DELTA)
    assert (await graph.get(INBOX_DELTA)).status_code == 200


async def test_truncated_body(graph: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.add_fault(kind="truncate", limit=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        await graph.get(INBOX_DELTA)
    assert (await graph.get(INBOX_DELTA)).status_code == 200


@pytest.mark.parametrize(("variant", "field"), [("from", "from"), ("date", "receivedDateTime")])
async def test_malformed_item_in_page(
    graph: httpx.AsyncClient, emulator: Emulator, variant: str, field: str
) -> None:
    emulator.add_fault(kind="malformed", malformed=variant, limit=1)
    items = (await graph.get(INBOX_DELTA, params={"$select": "from,receivedDateTime"})).json()[
        "value"
    ]
    broken = [m for m in items if isinstance(m[field], str) and not m[field][:4].isdigit()]
    assert len(broken) == 1


async def test_faults_scoped_to_mailbox_and_path_kind(
    graph: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.add_fault(kind="unavailable", mailbox=BEN)
    emulator.add_fault(kind="gateway_timeout", path_kind="users")
    assert (await graph.get(INBOX_DELTA)).status_code == 200
    assert (await graph.get(f"/users/{BEN}/mailFolders")).status_code == 503
    assert (await graph.get("/users")).status_code == 504


async def test_batch_items_throttled_on_their_own(
    graph: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.add_fault(kind="throttle", every=2, path_kind="messages", retry_after=4)
    requests = [{"id": str(i), "method": "GET", "url": INBOX_DELTA} for i in range(4)]
    reply = await graph.post("/$batch", json={"requests": requests})
    statuses = sorted(r["status"] for r in reply.json()["responses"])
    assert reply.status_code == 200 and statuses == [200, 200, 429, 429]
    throttled = next(r for r in reply.json()["responses"] if r["status"] == 429)
    assert throttled["headers"]["Retry-After"] == "4"


async def test_request_log_and_stats_endpoint(graph: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.reset_stats()
    await graph.get(INBOX_DELTA)
    await graph.get("/users")
    [first, second] = emulator.request_log
    assert first.method == "GET" and first.status == 200 and first.path_kind == "messages"
    assert first.mailbox is not None and second.mailbox is None
    async with httpx.AsyncClient(base_url=emulator.admin_url) as admin:
        stats: dict[str, Any] = (await admin.get("/stats", params={"log": "1"})).json()
    assert stats["requests"] == 2 and stats["requestsPerMailbox"] == {first.mailbox: 1}
    assert stats["peakConcurrencyPerMailbox"] == {first.mailbox: 1}
    assert len(stats["log"]) == 2 and stats["concurrencyViolations"] == 0
