"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    PostgreSQL keeps `timestamptz`; SQLite keeps no zone at all, so values are
    converted to UTC on the way in and marked UTC on the way out. A naive
    datetime is refused rather than guessed at: it is always a bug upstream.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use an aware UTC value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def core_table(model: type[Any]) -> sa.Table:
    """The Core `Table` behind a SQLModel class (typed, for bulk statements)."""
    table: sa.Table = model.__table__
    return table


# An id or a key (a record's type or id, an activity id, an interaction key): compared
# and sorted byte by byte on PostgreSQL too, as SQLite and Python's str do (migration
# 0015): indexes on it build with cheap comparisons, and "the smaller id" is Python's.
KEY_TEXT = sa.String().with_variant(sa.String(collation="C"), "postgresql")
