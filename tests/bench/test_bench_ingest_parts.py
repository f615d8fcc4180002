"""bench/ingest.py's parts of (a): each second of the caller's thread counted once."""

from __future__ import annotations

import itertools

from bench.ingest import HANDOVER, INDEX_BUILDS, OTHER, OWN_SHARE_COUNTED, PARTS, StatementParts


def test_the_handover_leaves_out_the_statements_inside_its_span() -> None:
    ticks = itertools.chain([0.0, 1.0], [3.0, 3.5], [6.0, 8.0])  # began, ended of each
    parts = StatementParts(clock=lambda: next(ticks))

    parts.began()
    parts.ended(OWN_SHARE_COUNTED)  # its own share counted: 0 to 1
    parts.began()
    parts.ended("DROP TABLE rapport_bulk_outcome")  # 3 to 3.5, inside the span
    parts.began()
    parts.ended("CREATE INDEX ix_interaction_occurred_at ON interaction (occurred_at)")

    assert parts.seconds[PARTS[-1][0]] == 1.0  # the count
    assert parts.seconds[OTHER] == 0.5  # the drop
    assert parts.seconds[HANDOVER] == 4.5  # 1 to 6, less the drop's 0.5
    assert parts.seconds[INDEX_BUILDS] == 2.0
    assert sum(parts.seconds.values()) == 8.0  # every second of (a)'s thread, once
