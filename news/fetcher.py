"""Fetch the configured feeds, one at a time, each failure kept to its own feed.

Each feed is asked with the validators of its last answer (If-None-Match with
its ETag, If-Modified-Since with its Last-Modified), so an unchanged feed costs
a 304 and no parsing. A feed that takes longer than `timeout` seconds in all,
sends more than `max_bytes`, answers an error status or is not RSS or Atom is
reported as failed with one line saying why; the others are fetched as usual.
Only titles, links, dates and the source's name leave this module, plus the
summary for matching (never stored).
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

import feedparser  # type: ignore[import-untyped]
import httpx

DEFAULT_TIMEOUT_SECONDS: Final = 10.0
DEFAULT_MAX_BYTES: Final = 2_000_000
USER_AGENT: Final = "Rapport-news/1 (+https://example.invalid/rapport)"


@dataclass(frozen=True, slots=True)
class FeedSource:
    """One configured feed; `accounts` when it is configured for particular accounts."""

    url: str
    accounts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Validators:
    """What the feed's last answer said about its version, for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchedItem:
    title: str
    link: str
    source: str
    published_at: datetime | None
    summary: str = ""  # for matching only


@dataclass(frozen=True, slots=True)
class FeedResult:
    url: str
    status: str  # "ok", "not_modified" or "failed"
    items: tuple[FetchedItem, ...] = ()
    validators: Validators = field(default_factory=Validators)
    error: str | None = None


class FeedConfigError(ValueError):
    """RAPPORT_NEWS_FEEDS refused; the message names the entry and what is allowed."""


def parse_feeds_setting(raw: str) -> list[FeedSource]:
    """RAPPORT_NEWS_FEEDS: entries separated by commas or white space, each a feed URL
    (every account is matched against it) or ACCOUNT_ID=URL (the account's own feed).
    The same URL named for several accounts is fetched once."""
    by_url: dict[str, list[str]] = {}
    for entry in raw.replace(",", " ").split():
        account, separator, url = entry.partition("=")
        if not separator or "://" in account:
            account, url = "", entry
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise FeedConfigError(
                f"RAPPORT_NEWS_FEEDS: {entry!r} is not allowed; expected an http(s) feed URL "
                "or ACCOUNT_ID=URL, separated by commas"
            )
        accounts = by_url.setdefault(url, [])
        if account and account not in accounts:
            accounts.append(account)
    return [FeedSource(url, tuple(accounts)) for url, accounts in by_url.items()]


class _TooSlow(Exception):
    pass


class _TooLarge(Exception):
    pass


def _read_body(
    response: httpx.Response, max_bytes: int, deadline: float, clock: Callable[[], float]
) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _TooLarge
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise _TooLarge
        if clock() > deadline:
            raise _TooSlow
    return bytes(body)


def fetch_feed(
    client: httpx.Client,
    source: FeedSource,
    validators: Validators | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    clock: Callable[[], float] = time.monotonic,
) -> FeedResult:
    """One feed's new state; never raises for what the feed or the network does."""
    known = validators or Validators()
    headers = {"User-Agent": USER_AGENT}
    if known.etag:
        headers["If-None-Match"] = known.etag
    if known.last_modified:
        headers["If-Modified-Since"] = known.last_modified
    deadline = clock() + timeout
    try:
        with client.stream(
            "GET", source.url, headers=headers, timeout=timeout, follow_redirects=True
        ) as response:
            if response.status_code == 304:
                return FeedResult(source.url, "not_modified", validators=known)
            if response.status_code >= 400:
                return _failed(source, known, f"HTTP {response.status_code}")
            body = _read_body(response, max_bytes, deadline, clock)
            answered = Validators(
                response.headers.get("etag"), response.headers.get("last-modified")
            )
    except (_TooSlow, httpx.TimeoutException):
        return _failed(source, known, f"no complete answer within {timeout:g} s")
    except _TooLarge:
        return _failed(source, known, f"larger than {max_bytes} bytes")
    except httpx.HTTPError as problem:
        return _failed(source, known, f"cannot fetch ({type(problem).__name__})")
    return _parsed(source, body, answered, known)


def _failed(source: FeedSource, known: Validators, why: str) -> FeedResult:
    return FeedResult(source.url, "failed", validators=known, error=why)


def _parsed(source: FeedSource, body: bytes, answered: Validators, known: Validators) -> FeedResult:
    parsed = feedparser.parse(body)  # bytes: feedparser never fetches anything itself
    if parsed.get("bozo") and not parsed.entries:
        return _failed(source, known, "not an RSS or Atom feed")
    if not parsed.get("version") and not parsed.entries:
        return _failed(source, known, "not an RSS or Atom feed")
    name = str(parsed.feed.get("title") or urlsplit(source.url).hostname or source.url)
    items = tuple(item for item in (_item(entry, name) for entry in parsed.entries) if item)
    return FeedResult(source.url, "ok", items, answered)


def _item(entry: Mapping[str, Any], source: str) -> FetchedItem | None:
    title, link = " ".join(str(entry.get("title") or "").split()), str(entry.get("link") or "")
    if not title or urlsplit(link).scheme not in ("http", "https"):
        return None  # nothing to show or nowhere to go
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    published = None if stamp is None else datetime.fromtimestamp(calendar.timegm(stamp), UTC)
    return FetchedItem(
        title[:500], link[:2000], source[:200], published, str(entry.get("summary") or "")[:5000]
    )


def fetch_all(
    client: httpx.Client,
    sources: Iterable[FeedSource],
    validators: Mapping[str, Validators],
    **limits: Any,
) -> list[FeedResult]:
    """Every feed in turn; one feed's failure is its own result, never the others'."""
    return [fetch_feed(client, source, validators.get(source.url), **limits) for source in sources]
