"""CRM values that break the contract (docs/crm-contract.md, "Values Rapport refuses").

A CRM row that cannot be read, or holds a value outside the documented
bounds, never stops a run: the run handles it as the contract says (skips
the row, ignores or bounds the value) and reports it here, naming the
table, the row and the column. A systematic CRM bug can break every row, so
the report counts every problem but keeps only the first few as examples.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

EXAMPLES_KEPT = 20  # problems kept in full; the rest are counted by column
SHOWN_CHARS = 60  # a value longer than this is cut when shown: reports stay one line each
ROW_SKIPPED = "row skipped"


def shown(value: Any) -> str:
    """A value as one short line: timestamps in ISO form, anything else as Python shows it."""
    text = value.isoformat() if isinstance(value, datetime) else repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}..."


@dataclass(frozen=True)
class RowProblem:
    """One value of one CRM row that breaks the contract, and what the run did about it."""

    table: str
    row_id: str
    column: str
    value: Any
    allowed: str
    handling: str = ROW_SKIPPED

    def __str__(self) -> str:
        return (
            f"{self.table} {shown(self.row_id)}: {self.column} {shown(self.value)} is not "
            f"allowed; expected {self.allowed}; {self.handling}"
        )


class RowRejected(Exception):
    """A row the run skips: the problem says which column and why."""

    def __init__(self, problem: RowProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass
class RowProblems:
    """Every problem of a run counted by table and column; the first EXAMPLES_KEPT kept.

    Iterating gives the kept examples, in the order they were found.
    """

    count: int = 0
    by_column: Counter[str] = field(default_factory=Counter)  # "table.column" -> problems
    examples: list[RowProblem] = field(default_factory=list)

    def add(self, problem: RowProblem) -> None:
        self.count += 1
        self.by_column[f"{problem.table}.{problem.column}"] += 1
        if len(self.examples) < EXAMPLES_KEPT:
            self.examples.append(problem)

    def headline(self) -> str:
        """'3 CRM values outside the contract (crm_activity.start_at 2, lead.status 1)'."""
        columns = ", ".join(f"{name} {count}" for name, count in sorted(self.by_column.items()))
        return f"{self.count} CRM values outside the contract ({columns})"

    def __iter__(self) -> Iterator[RowProblem]:
        return iter(self.examples)

    def __bool__(self) -> bool:
        return self.count > 0
