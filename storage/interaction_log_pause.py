"""Writing interactions in bulk without the per-row change log (migration 0013).

The interaction triggers copy every row written into `interaction_change`
(storage.tick_tables), which the writer then reads back to learn which
records to score. For a first CRM ingest into an empty store that is a
million rows logged and read back, more than the writing itself costs. A
transaction that holds a row of `interaction_log_pause` is not logged; it
names the records it wrote in one statement instead (`pend_every_stored_record`).
Other transactions do not see the row before it commits, and it never
commits: the pausing transaction deletes it again (a rollback takes it too).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlmodel import Session

from storage.engine import is_postgres
from storage.tick_tables import InteractionLogPause
from storage.types import core_table

PAUSE = core_table(InteractionLogPause)


@contextmanager
def paused_interaction_log(session: Session) -> Iterator[None]:
    """Interactions written inside are not logged row by row (only in this transaction)."""
    session.execute(sa.insert(PAUSE).values(id=1))
    yield
    session.execute(sa.delete(PAUSE))


# Every record an interaction names (its parties, its "regarding"), as a change log
# consumer would have read them (storage.tick_changes.party_refs).
_STORED_REFS = (
    "SELECT record_type, record_id FROM interaction_party"
    " UNION SELECT regarding_type, regarding_id FROM interaction"
    " WHERE regarding_type <> '' AND regarding_id <> ''"
)
_REGARDING = "regarding_type <> '' AND regarding_id <> ''"


def _distinct_pairs(name: str, table: str, first: str, second: str, where: str = "true") -> str:
    """A recursive term listing the distinct (`first`, `second`) of `table` by its index on
    them, one index descent per pair: a million rows name a few thousand records."""
    return f"""{name} ({first}, {second}) AS (
    (SELECT {first}, {second} FROM {table} WHERE {where} ORDER BY 1, 2 LIMIT 1)
    UNION ALL
    SELECT after.* FROM {name} AS last CROSS JOIN LATERAL (
        SELECT t.{first}, t.{second} FROM {table} AS t
        WHERE (t.{first}, t.{second}) > (last.{first}, last.{second}) AND {where}
        ORDER BY 1, 2 LIMIT 1) AS after
)"""


# PostgreSQL: the same records read from the indexes (interaction_party's on the record,
# interaction's on the "regarding"), instead of grouping every party row.
_STORED_REFS_BY_INDEX = f"""
WITH RECURSIVE {_distinct_pairs("parties", "interaction_party", "record_type", "record_id")},
{_distinct_pairs("regarding", "interaction", "regarding_type", "regarding_id", _REGARDING)}
SELECT record_type, record_id FROM parties
UNION SELECT regarding_type, regarding_id FROM regarding
"""


def pend_every_stored_record(session: Session) -> None:
    """Every record the stored interactions name goes to tick_pending_record."""
    refs = _STORED_REFS_BY_INDEX if is_postgres(session) else _STORED_REFS
    session.execute(
        sa.text(
            "INSERT INTO tick_pending_record (record_type, record_id)"
            f" SELECT record_type, record_id FROM ({refs}) AS refs WHERE true"
            " ON CONFLICT DO NOTHING"
        )
    )
