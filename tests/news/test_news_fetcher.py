"""news.fetcher against feeds served by a real local HTTP server: valid (then a 304
on the conditional GET), malformed, huge, slow, gone; failures stay per feed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from news.fetcher import (
    FeedConfigError,
    FeedSource,
    Validators,
    fetch_all,
    fetch_feed,
    parse_feeds_setting,
)

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Trade News</title>
<item><title>Contoso Pharmaceuticals opens a plant</title><link>https://news.example/1</link>
<pubDate>Tue, 17 Nov 2026 08:00:00 GMT</pubDate><description>In Basel.</description></item>
<item><title>No link here</title></item>
</channel></rss>"""
ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>Fabrikam blog</title><entry><title>Fabrikam ships</title>
<link href="https://fabrikam.example/ships"/><updated>2026-11-18T10:00:00Z</updated></entry></feed>"""
ETAG = '"v1"'


class Feeds(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
        if self.path == "/rss":
            if self.headers.get("If-None-Match") == ETAG:
                self.send_response(304)
                self.end_headers()
                return
            self._send(RSS, {"ETag": ETAG, "Last-Modified": "Tue, 17 Nov 2026 08:00:00 GMT"})
        elif self.path == "/atom":
            self._send(ATOM)
        elif self.path == "/malformed":
            self._send(b"<html><body>Not a feed <p>at all</body></html>")
        elif self.path == "/huge":
            self._send(b"<rss>" + b"x" * 300_000 + b"</rss>")
        elif self.path == "/huge-undeclared":
            self.send_response(200)
            self.end_headers()
            for _ in range(300):
                self.wfile.write(b"x" * 1000)
        elif self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)
        else:
            self.send_response(410)
            self.end_headers()

    def _send(self, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the fetcher hanging up on a huge or slow feed is the point of those tests


@pytest.fixture
def base() -> Iterator[str]:
    server = QuietServer(("127.0.0.1", 0), Feeds)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as opened:
        yield opened


def test_a_valid_feed_then_a_304(base: str, client: httpx.Client) -> None:
    first = fetch_feed(client, FeedSource(f"{base}/rss"))

    assert first.status == "ok" and first.error is None
    assert [(i.title, i.link, i.source) for i in first.items] == [
        ("Contoso Pharmaceuticals opens a plant", "https://news.example/1", "Trade News")
    ]  # the item without a link is left out
    assert first.items[0].published_at == datetime(2026, 11, 17, 8, tzinfo=UTC)
    assert first.validators == Validators(ETAG, "Tue, 17 Nov 2026 08:00:00 GMT")
    again = fetch_feed(client, FeedSource(f"{base}/rss"), first.validators)
    assert again.status == "not_modified" and again.items == ()
    assert again.validators == first.validators


def test_atom(base: str, client: httpx.Client) -> None:
    found = fetch_feed(client, FeedSource(f"{base}/atom"))

    assert found.status == "ok" and found.items[0].source == "Fabrikam blog"
    assert found.items[0].published_at == datetime(2026, 11, 18, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/malformed", "not an RSS or Atom feed"),
        ("/huge", "larger than 100000 bytes"),
        ("/huge-undeclared", "larger than 100000 bytes"),
        ("/slow", "no complete answer within 0.5 s"),
        ("/gone", "HTTP 410"),
    ],
)
def test_failures_are_one_line_per_feed(
    base: str, client: httpx.Client, path: str, error: str
) -> None:
    known = Validators('"old"', None)
    found = fetch_feed(client, FeedSource(f"{base}{path}"), known, timeout=0.5, max_bytes=100_000)

    assert (found.status, found.error, found.items) == ("failed", error, ())
    assert found.validators == known  # kept for the next try


def test_a_failing_feed_does_not_stop_the_others(base: str, client: httpx.Client) -> None:
    sources = [
        FeedSource(f"{base}/gone"),
        FeedSource("http://127.0.0.1:9/closed"),
        FeedSource(f"{base}/atom"),
    ]
    results = fetch_all(client, sources, {}, timeout=2.0)

    assert [r.status for r in results] == ["failed", "failed", "ok"]
    assert results[1].error == "cannot fetch (ConnectError)"


def test_feeds_setting() -> None:
    sources = parse_feeds_setting(
        "https://news.example/rss, a1=https://contoso.example/feed?x=1 "
        "a2=https://contoso.example/feed?x=1,https://news.example/rss"
    )

    assert sources == [
        FeedSource("https://news.example/rss"),
        FeedSource("https://contoso.example/feed?x=1", ("a1", "a2")),
    ]
    with pytest.raises(FeedConfigError, match="RAPPORT_NEWS_FEEDS: 'ftp://x' is not allowed"):
        parse_feeds_setting("ftp://x")
