"""What's New storage: feed validators, matched items (deduplicated), retention.

Items are keyed by (account, link): fetching a story again, or meeting it in a
second feed, changes nothing. Items older than RETENTION_DAYS (by their date,
or when they were fetched if they carry none) are never stored and are purged.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.crm_tables import Account, Contact
from storage.news_tables import NewsFeed, NewsItem
from storage.types import core_table

RETENTION_DAYS = 90
ITEM = core_table(NewsItem)
FEED = core_table(NewsFeed)
ACCOUNT = core_table(Account)
CONTACT = core_table(Contact)


def load_validators(*, session: Session) -> dict[str, tuple[str | None, str | None]]:
    """Each feed's (ETag, Last-Modified) from its last good answer."""
    rows = session.execute(sa.select(FEED.c.url, FEED.c.etag, FEED.c.last_modified))
    return {url: (etag, modified) for url, etag, modified in rows}


def save_feed(
    *,
    session: Session,
    url: str,
    etag: str | None,
    last_modified: str | None,
    status: str,
    error: str | None,
    at: datetime,
) -> None:
    values = {
        "etag": etag,
        "last_modified": last_modified,
        "fetched_at": at,
        "status": status,
        "error": error,
    }
    if session.execute(sa.update(FEED).where(FEED.c.url == url).values(values)).rowcount == 0:  # type: ignore[attr-defined]
        session.execute(sa.insert(FEED).values(url=url, **values))


def account_terms(*, session: Session) -> list[tuple[str, str, tuple[str, ...]]]:
    """(account id, name, its contacts' email domains) for every account."""
    domains: dict[str, set[str]] = {}
    known = CONTACT.c.account_id.is_not(None) & CONTACT.c.email.is_not(None)
    rows = session.execute(sa.select(CONTACT.c.account_id, CONTACT.c.email).where(known))
    for account_id, email in rows:
        domain = str(email).strip().lower().rpartition("@")[2]
        if domain:
            domains.setdefault(account_id, set()).add(domain)
    accounts = session.execute(sa.select(ACCOUNT.c.id, ACCOUNT.c.name).order_by(ACCOUNT.c.id))
    return [(aid, name, tuple(sorted(domains.get(aid, ())))) for aid, name in accounts]


def save_items(*, session: Session, items: Iterable[dict[str, Any]], now: datetime) -> int:
    """Store the matched items not stored yet and within retention; returns how many."""
    oldest = now - timedelta(days=RETENTION_DAYS)
    added = 0
    for item in items:
        if item["published_at"] is not None and item["published_at"] < oldest:
            continue
        key = (ITEM.c.account_id == item["account_id"]) & (ITEM.c.link == item["link"])
        if session.execute(sa.select(ITEM.c.link).where(key)).first() is None:
            session.execute(sa.insert(ITEM).values(**item, fetched_at=now))
            added += 1
    return added


def purge_items(*, session: Session, now: datetime) -> int:
    oldest = now - timedelta(days=RETENTION_DAYS)
    dated = sa.func.coalesce(ITEM.c.published_at, ITEM.c.fetched_at)
    return int(session.execute(sa.delete(ITEM).where(dated < oldest)).rowcount)  # type: ignore[attr-defined]


def account_items(*, session: Session, account_id: str, limit: int) -> list[dict[str, Any]]:
    """An account's stored items, newest first."""
    dated = sa.func.coalesce(ITEM.c.published_at, ITEM.c.fetched_at)
    query = (
        sa.select(ITEM.c.title, ITEM.c.link, ITEM.c.source, ITEM.c.published_at)
        .where(ITEM.c.account_id == account_id)
        .order_by(dated.desc(), ITEM.c.link)
        .limit(limit)
    )
    return [row._asdict() for row in session.execute(query)]
