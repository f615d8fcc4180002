"""The columnar scoring core: the same results as scoring.ScoringRun, over columns.

A book of interactions is read as numpy columns (columns.py, built by
builder.py; the read from the store is worker.run.interaction_columns, since
scoring/ imports nothing of ours), each
record's interactions are found by joins over codes (visits.py), every
per-record figure is one vectorised operation over a group of records
(tally.py), what every record of the group needs is worked out for all of them
at once (group.py: states, KPIs, the reasons' inputs), and only what is truly
per record (the reasons' sentences, the roll-ups) runs in Python per record.
docs/scoring.md, "How it runs fast", says how.
"""

from scoring.columnar.builder import ColumnsBuilder, columns_of
from scoring.columnar.columns import InteractionColumns
from scoring.columnar.score import ColumnarRun, score_columns

__all__ = ["ColumnarRun", "ColumnsBuilder", "InteractionColumns", "columns_of", "score_columns"]
