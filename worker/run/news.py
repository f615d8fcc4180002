"""Fetch the configured news feeds, match their items to accounts, store the matches.

Used by `rapport news fetch` and the worker's schedule. Each feed is fetched
with the validators its last answer gave (a 304 costs nothing), its outcome
recorded (`news_feed`), and a failure stays that feed's: the summary lists it,
the other feeds go on. Matching is `insights.news_matching`'s conservative
rules; a feed configured for accounts counts as their own feed there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session

from insights.news_matching import AccountTerms, FeedItem, match_items
from news.fetcher import FeedResult, FeedSource, Validators, fetch_all, parse_feeds_setting
from storage import news_store
from storage.engine import session_scope

FEEDS_SETTING = "RAPPORT_NEWS_FEEDS"


@dataclass
class NewsSummary:
    feeds: int = 0
    items_added: int = 0
    items_purged: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # url -> why


def configured_feeds() -> list[FeedSource]:
    """RAPPORT_NEWS_FEEDS, parsed (FeedConfigError names a bad entry)."""
    return parse_feeds_setting(os.environ.get(FEEDS_SETTING, ""))


def refresh_news(
    engine: Engine, sources: list[FeedSource], *, now: datetime, client: httpx.Client | None = None
) -> NewsSummary:
    with session_scope(engine) as session:
        known = {
            url: Validators(*pair)
            for url, pair in news_store.load_validators(session=session).items()
        }
        accounts = [AccountTerms(*terms) for terms in news_store.account_terms(session=session)]
    if client is None:
        with httpx.Client() as opened:
            results = fetch_all(opened, sources, known)
    else:
        results = fetch_all(client, sources, known)
    summary = NewsSummary(feeds=len(sources))
    with session_scope(engine) as session:
        for source, result in zip(sources, results, strict=True):
            summary.items_added += _store(session, source, result, accounts, now)
            if result.error is not None:
                summary.failed[source.url] = result.error
        summary.items_purged = news_store.purge_items(session=session, now=now)
    return summary


def _store(
    session: Session,
    source: FeedSource,
    result: FeedResult,
    accounts: list[AccountTerms],
    now: datetime,
) -> int:
    news_store.save_feed(
        session=session,
        url=source.url,
        etag=result.validators.etag,
        last_modified=result.validators.last_modified,
        status=result.status,
        error=result.error,
        at=now,
    )
    by_link = {item.link: item for item in result.items}
    matched = match_items(
        (FeedItem(i.title, i.link, i.summary) for i in result.items),
        accounts,
        own_accounts=frozenset(source.accounts),
    )
    rows = [
        {
            "account_id": account.account_id,
            "link": item.link,
            "title": item.title,
            "source": by_link[item.link].source,
            "published_at": by_link[item.link].published_at,
        }
        for item, account, _reason in matched
    ]
    return news_store.save_items(session=session, items=rows, now=now)
