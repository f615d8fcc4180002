"""Bulk inserts keep every value exactly, whatever characters it holds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.bulk import insert_rows
from storage.types import UTCDateTime

PROBE = sa.Table(
    "bulk_probe",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("text", sa.String),
    sa.Column("number", sa.Float),
    sa.Column("flag", sa.Boolean),
    sa.Column("at", UTCDateTime()),
    sa.Column("day", sa.Date),
    sa.Column("doc", sa.JSON),
)
COLUMNS = ("id", "text", "number", "flag", "at", "day", "doc")


@pytest.fixture
def probe(engine: Engine) -> Iterator[Engine]:
    PROBE.create(engine)
    try:
        yield engine
    finally:
        PROBE.drop(engine)


ROWS: list[tuple[Any, ...]] = [
    (
        1,
        "tab\there, newline\nthere, cr\r, backslash \\N and \\",
        0.1,
        True,
        datetime(2026, 11, 20, 12, 30, 1, 250, tzinfo=UTC),
        date(2026, 2, 28),
        {"reason": 'said "no"\tthen\\left', "weeks": [1, 2.5, None], "ünï": "cødé"},
    ),
    (2, None, None, None, None, None, None),
    (3, "", -0.0, False, datetime(1999, 1, 1, tzinfo=UTC), date(1999, 1, 1), []),
]


def test_every_value_comes_back_as_written(probe: Engine) -> None:
    with Session(probe) as session:
        assert insert_rows(session, PROBE, COLUMNS, iter(ROWS)) == 3
        session.commit()
    with probe.connect() as connection:
        stored = connection.execute(sa.select(PROBE).order_by(PROBE.c.id)).all()
    assert [tuple(row) for row in stored] == ROWS


def test_nothing_to_insert_writes_nothing(probe: Engine) -> None:
    with Session(probe) as session:
        assert insert_rows(session, PROBE, COLUMNS, []) == 0
        session.commit()
    with probe.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(PROBE)).scalar() == 0
