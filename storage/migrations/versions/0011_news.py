"""news_item, news_feed: What's New items matched to accounts (title, link, source,
date) and each feed's validators for conditional GETs

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 21:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "news_item",
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("link", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("published_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("fetched_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "link"),
    )
    with op.batch_alter_table("news_item", schema=None) as batch_op:
        batch_op.create_index("ix_news_item_fetched_at", ["fetched_at"], unique=False)
    op.create_table(
        "news_feed",
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("etag", sa.String(), nullable=True),
        sa.Column("last_modified", sa.String(), nullable=True),
        sa.Column("fetched_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("url"),
    )


def downgrade() -> None:
    op.drop_table("news_feed")
    with op.batch_alter_table("news_item", schema=None) as batch_op:
        batch_op.drop_index("ix_news_item_fetched_at")
    op.drop_table("news_item")
