"""The access token goes to the configured Graph only (graph_sync/host_pin.py).

Delta and next links are stored as cursors, so they outlive a change of
RAPPORT_GRAPH_BASE_URL (a national cloud, a proxy, an emulator restarted on
other ports). A stored link for another host is re-baselined, never followed;
a link in a response that points elsewhere fails its folder. Both are checked
against a real listener at the other address: it must hear nothing at all.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from emulator.app import Emulator
from emulator.http import GraphRequest
from emulator.testing import FixtureBuilder, running_emulator
from graph_sync.host_pin import GraphHost
from tests.graph_sync.conftest import ADELE, NOW, Exchange
from worker.cli.commands import summary_payload
from worker.cli.output import run_summary
from worker.run.tick import RunSummary

LATER = NOW + dt.timedelta(hours=1)
CLOSE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclasses.dataclass
class Listener:
    """A real socket at an address Rapport must not talk to: keeps the first bytes of
    every connection (a request head with its Authorization header, or a TLS hello)."""

    port: int
    heard: list[bytes] = dataclasses.field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.heard.append(await asyncio.wait_for(reader.read(65536), 5))
            writer.write(CLOSE)  # and a retryable answer, as a dead gateway would give
            await writer.drain()
        except (OSError, TimeoutError):
            self.heard.append(b"")
        finally:
            writer.close()


@asynccontextmanager
async def listening(port: int = 0) -> AsyncIterator[Listener]:
    listener = Listener(port)
    server = await asyncio.start_server(listener.serve, "127.0.0.1", port)
    listener.port = server.sockets[0].getsockname()[1]
    try:
        yield listener
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def moved_graph(tmp_path: Path) -> AsyncIterator[Emulator]:
    """The same tenant served again on other ports: Graph after a base URL change."""
    async with running_emulator(
        FixtureBuilder.standard().build(), workdir=tmp_path / "moved", seed=7
    ) as moved:
        yield moved


def only_mailbox(summary: RunSummary) -> Any:
    assert summary.exchange is not None and summary.exchange.tenant is not None
    [mailbox] = summary.exchange.tenant.mailboxes
    return mailbox


async def test_links_stored_for_the_old_graph_are_re_baselined_never_followed(
    exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = exchange.emulator
    await exchange.tick(graph_base_url=old.https_graph_url, page_size=10)
    before = exchange.interaction_keys("exchange")
    stored = exchange.rows("sync_cursor")
    assert stored and all(c["delta_link"].startswith(old.https_graph_url) for c in stored)
    exchange.requests.clear()
    old.reset_stats()

    async with moved_graph(tmp_path) as moved:
        summary = await exchange.tick(
            now=LATER,
            graph_base_url=moved.https_graph_url,
            authority_host=moved.authority,
            page_size=10,
        )

    # Not one request (token or not) reached the old Graph.
    assert exchange.requests == [] and old.request_log == []
    mailbox = only_mailbox(summary)
    assert mailbox.status == "ok" and mailbox.counters.retries == 0
    # Every folder and the calendar were read again from the start, and say so.
    assert mailbox.counters.foreign_links == len(stored)
    payload = summary_payload(summary)
    assert payload["exchange"]["foreign_links"] == len(stored)
    capsys.readouterr()
    run_summary(payload)
    assert (
        f"  {len(stored)} folder(s) re-baselined: their stored links were for another host "
        "than RAPPORT_GRAPH_BASE_URL" in capsys.readouterr().out
    )
    cursors = exchange.rows("sync_cursor")
    assert len(cursors) == len(stored)
    assert all(c["delta_link"].startswith(moved.https_graph_url) for c in cursors)
    assert all(c["rebaselines"] == 1 and c["baseline_complete"] for c in cursors)
    assert exchange.interaction_keys("exchange") == before  # nothing lost, nothing doubled
    assert summary.exit_code == 0


async def test_an_old_graph_that_is_gone_costs_no_retries(
    exchange: Exchange, tmp_path: Path
) -> None:
    old = exchange.emulator
    await exchange.tick(graph_base_url=old.https_graph_url)
    old_port = old.port
    await old.stop()  # the emulator restarted elsewhere; something else listens here now

    async with moved_graph(tmp_path) as moved, listening(old_port) as old_address:
        summary = await exchange.tick(
            now=LATER, graph_base_url=moved.https_graph_url, authority_host=moved.authority
        )

    assert old_address.heard == []  # not even a connection
    mailbox = only_mailbox(summary)
    # The reported run: 840 retries, mailboxes throttled. Now none, and the round completes.
    assert (mailbox.status, mailbox.counters.retries) == ("ok", 0)
    assert mailbox.counters.rebaselines == mailbox.counters.foreign_links > 0


async def test_a_next_link_to_another_host_is_refused(exchange: Exchange) -> None:
    graph = exchange.emulator.graph
    handle = graph.handle

    async with listening() as elsewhere:
        elsewhere_url = f"http://127.0.0.1:{elsewhere.port}/v1.0"

        async def misdirecting(request: GraphRequest, *, in_batch: bool = False) -> Any:
            # A proxy that rewrites the host its links are built from: mail pages
            # come back with @odata.nextLink / @odata.deltaLink on another host.
            if "/messages/" in request.path and "delta" in request.path:
                request = dataclasses.replace(request, base_url=elsewhere_url)
            return await handle(request, in_batch=in_batch)

        exchange.monkeypatch.setattr(graph, "handle", misdirecting)
        summary = await exchange.tick(
            graph_base_url=exchange.emulator.https_graph_url, page_size=10
        )

    assert elsewhere.heard == []  # the link was never followed, so no token went there
    mailbox = only_mailbox(summary)
    assert mailbox.status == "failed" and mailbox.counters.retries == 0
    assert "@odata.nextLink" in mailbox.error and "not followed" in mailbox.error
    assert exchange.mailbox(ADELE)["last_error"] == mailbox.error
    # No such link became a cursor; the calendar, whose links were fine, was read.
    cursors = exchange.rows("sync_cursor")
    links = [c[k] or "" for c in cursors for k in ("next_link", "delta_link")]
    assert not any(str(elsewhere.port) in link for link in links)
    assert any(c["folder_id"] == "calendar" and c["delta_link"] for c in cursors)
    assert {k.split(":")[0] for k in exchange.interaction_keys("exchange")} == {"evt"}


BASE = "https://graph.microsoft.com/v1.0"


@pytest.mark.parametrize(
    ("link", "owned"),
    [
        ("https://graph.microsoft.com/v1.0/users/a/messages/delta?$deltatoken=x", True),
        ("https://GRAPH.microsoft.com:443/v1.0/users", True),  # case and the default port
        ("https://graph.microsoft.com/v1.0", True),
        ("https://graph.microsoft.com:8443/v1.0/users", False),  # same host, another port
        ("http://graph.microsoft.com/v1.0/users", False),  # another scheme
        ("https://graph.microsoft.us/v1.0/users", False),  # a national cloud
        ("https://graph.microsoft.com/beta/users", False),  # another base path
        ("https://graph.microsoft.com/v1.0beta/users", False),  # a prefix is not a path
        ("https://graph.microsoft.com/v1.0/../beta/users", False),
        ("https://graph.microsoft.com/v1.0/%2e%2e/beta/users", False),
        ("https://graph.microsoft.com@evil.example/v1.0/users", False),  # userinfo
        ("https://evil.example\\@graph.microsoft.com/v1.0/users", False),
        ("https://graph.microsoft.com.evil.example/v1.0/users", False),
        ("https://graph.microsoft.com:99999/v1.0/users", False),  # no such port
        ("/v1.0/users", False),  # relative: no host at all
    ],
)
def test_only_links_under_the_configured_base_url_are_owned(link: str, owned: bool) -> None:
    assert GraphHost.of(BASE).owns(link) is owned
    assert GraphHost.of(BASE + "/").owns(link) is owned  # a trailing slash changes nothing
