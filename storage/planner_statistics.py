"""Fresh planner statistics for the interaction tables after a large change.

PostgreSQL plans every query on these tables (the CRM path's reads of stored
interactions, erasure's and export's joins through interaction_party) from
table statistics. Autovacuum refreshes them, but only some time after a
large change: the queries right after a backfill or a big CRM ingest would
be planned for the empty tables it replaced. Measured on the 1M benchmark,
when the scoring read still joined the two tables: a hash join spilling to
disk, 3.6 s instead of 2.3 s. ANALYZE samples a fixed number of rows (0.4 s
at 1M), so it runs only when enough has changed, by the same rule
autovacuum uses.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

TABLES = ("interaction", "interaction_party")
# PostgreSQL's own defaults: autovacuum_analyze_scale_factor and _threshold.
STALE_FRACTION = 0.1
STALE_MINIMUM_ROWS = 50

_STATE = sa.text(
    "SELECT relname, n_live_tup, n_mod_since_analyze, "
    "last_analyze IS NULL AND last_autoanalyze IS NULL "
    "FROM pg_stat_user_tables WHERE relname IN :tables"
).bindparams(sa.bindparam("tables", TABLES, expanding=True))


def is_stale(live_rows: int, changed_rows: int, never_analyzed: bool) -> bool:
    if changed_rows < STALE_MINIMUM_ROWS:
        return never_analyzed and live_rows > 0
    return never_analyzed or changed_rows > STALE_FRACTION * live_rows


def refresh_interaction_statistics(engine: Engine, *, changed_rows: int = 0) -> tuple[str, ...]:
    """ANALYZE the interaction tables whose statistics are stale; returns their names.

    `changed_rows` is what the caller just wrote: the server's own counters
    reach pg_stat_user_tables up to a second after a commit, too late for a
    scoring read that starts at once. No-op on SQLite, whose planner goes by
    indexes.
    """
    if engine.dialect.name != "postgresql":
        return ()
    with engine.connect() as connection:
        state = connection.execute(_STATE).all()
        stale = tuple(
            name
            for name, live, modified, never in state
            if is_stale(live, max(modified, changed_rows), never)
        )
        if stale:
            connection.execute(sa.text(f"ANALYZE {', '.join(stale)}"))
            connection.commit()
    return stale
