"""`rapport news fetch` and `rapport news show` on SQLite and PostgreSQL, against feeds
served by a real local HTTP server: matched items stored once, a gone feed reported
while the others are stored, old items never kept, the notice on every output."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from insights.notice import EMPLOYMENT_NOTICE
from storage.news_tables import NewsItem
from tests import factories as f
from tests.worker.cli_runner import run_cli

RECENT = format_datetime(datetime.now(UTC) - timedelta(days=2), usegmt=True)
OLD = format_datetime(datetime.now(UTC) - timedelta(days=200), usegmt=True)


def _rss(*items: tuple[str, str, str]) -> bytes:
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><pubDate>{d}</pubDate></item>"
        for t, link, d in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{body}'
        "</channel></rss>"
    ).encode()


FEED = _rss(
    ("Contoso Pharmaceuticals opens a plant", "https://wire.example/1", RECENT),
    ("Apple pie recipes", "https://wire.example/2", RECENT),
    ("Results at https://contoso.example", "https://contoso.example/news/3", RECENT),
    ("Contoso Pharmaceuticals in 2026", "https://wire.example/old", OLD),
)
OWN = _rss(("Apple unveils a phone", "https://wire.example/4", RECENT))


class Feeds(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
        body = {"/wire": FEED, "/apple": OWN}.get(self.path)
        if body is None:
            self.send_response(410)
            self.end_headers()
            return
        if self.headers.get("If-None-Match") == '"w"':
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", '"w"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Feeds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def store(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch, base: str) -> Engine:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    monkeypatch.setenv("RAPPORT_NEWS_FEEDS", f"{base}/wire, {base}/gone, a2={base}/apple")
    f.account(engine, "a1", "Contoso Pharmaceuticals Ltd")
    f.account(engine, "a2", "Apple")
    f.contact(engine, "c1", "dana@contoso.example", "Dana Ruiz", "a1")
    return engine


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    ran = run_cli(capsys, *args, "--json")
    assert ran.code == 0, ran.err
    payload: dict[str, Any] = json.loads(ran.out)
    return payload


def test_fetch_then_show(store: Engine, capsys: pytest.CaptureFixture[str], base: str) -> None:
    first = _json(capsys, "news", "fetch")
    again = _json(capsys, "news", "fetch")  # 304s: nothing new, nothing doubled

    assert first["notice"] == EMPLOYMENT_NOTICE
    assert (first["feeds"], first["items_added"]) == (3, 3)
    assert first["failed"] == {f"{base}/gone": "HTTP 410"}
    assert again["items_added"] == 0
    contoso = _json(capsys, "news", "show", "account:a1")
    assert contoso["notice"] == EMPLOYMENT_NOTICE
    assert contoso["name"] == "Contoso Pharmaceuticals Ltd"
    assert sorted(i["link"] for i in contoso["items"]) == [
        "https://contoso.example/news/3",
        "https://wire.example/1",
    ]  # not the fruit, not the 200-day-old story
    assert set(contoso["items"][0]) == {"title", "link", "source", "published_at"}
    apple = _json(capsys, "news", "show", "a2")
    assert [i["title"] for i in apple["items"]] == ["Apple unveils a phone"]  # its own feed


def test_old_items_are_purged(store: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    f.insert(
        store,
        NewsItem,
        {
            "account_id": "a1",
            "link": "https://wire.example/ancient",
            "title": "Ancient",
            "source": "Wire",
            "published_at": None,
            "fetched_at": datetime.now(UTC) - timedelta(days=120),
        },
    )

    assert _json(capsys, "news", "fetch")["items_purged"] == 1
    links = [i["link"] for i in _json(capsys, "news", "show", "a1")["items"]]
    assert "https://wire.example/ancient" not in links


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("news", "show", "a9"), None, "ACCOUNT: no account with id 'a9'"),
        (("news", "show", "a1", "--limit", "0"), None, "--limit: 0 is not allowed"),
        (("news", "fetch"), "ftp://nope", "RAPPORT_NEWS_FEEDS: 'ftp://nope' is not allowed"),
        (("news", "fetch"), "", "RAPPORT_NEWS_FEEDS: no feed configured"),
    ],
)
def test_bad_input_is_one_line(
    store: Engine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    env: str | None,
    message: str,
) -> None:
    if env is not None:
        monkeypatch.setenv("RAPPORT_NEWS_FEEDS", env)
    ran = run_cli(capsys, *args)

    assert ran.code == 2 and message in ran.err and "Traceback" not in ran.err
