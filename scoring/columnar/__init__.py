"""The columnar scoring core: the same results as scoring.ScoringRun, over columns.

A book of interactions is read as numpy columns (columns.py; the read from the store is
worker.run.interaction_columns, since scoring/ imports nothing of ours), each
record's interactions are found by joins over codes (visits.py), every
per-record figure is one vectorised operation over the whole book (tally.py),
and only what is truly per record (readings, reasons, roll-ups) runs in Python
(score.py). docs/scoring.md, "How it runs fast", says what it is for and what
is not wired yet.
"""

from scoring.columnar.columns import ColumnsBuilder, InteractionColumns, columns_of
from scoring.columnar.score import ColumnarRun, score_columns

__all__ = ["ColumnarRun", "ColumnsBuilder", "InteractionColumns", "columns_of", "score_columns"]
