"""The one-line notice every insights output carries (CLI text, JSON, CSV, chart).

Relationship insights describe how customer relationships are going, not how well
anyone does their job (docs/compliance.md, "Not for employment decisions"); the
wording follows that section and the compliance export's notice, shortened to one
line so that it fits a chart caption and a CSV comment.
"""

from typing import Final

EMPLOYMENT_NOTICE: Final = (
    "Relationship insights must not be used to make or support decisions "
    "that affect anyone's employment."
)
