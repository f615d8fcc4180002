"""What's New tables: the news items matched to accounts, and each feed's last answer.

An item keeps only its title, link, source (the feed's name) and date, never
its text; one row per account and link, so a story seen in several feeds, or
fetched again, is stored once. Items go after the retention window
(storage.news_store.RETENTION_DAYS).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class NewsItem(SQLModel, table=True):
    __tablename__ = "news_item"

    account_id: str = Field(primary_key=True)
    link: str = Field(primary_key=True)
    title: str
    source: str
    published_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    fetched_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False, index=True))


class NewsFeed(SQLModel, table=True):
    __tablename__ = "news_feed"

    url: str = Field(primary_key=True)
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    status: str | None = None  # ok, not_modified or failed
    error: str | None = None
