"""What `rapport crm import` reports: each refused value, and counts by table.

A refusal names where the row is (file and line; for JSON also the row's
JSON pointer), the table, the row's id, the column and what the column
allows (crm.file_rows' field descriptions), and what the import did about it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from crm.file_reading import SourceRow
from crm.file_rows import MODELS, TABLE_ORDER, FileRow, RowContext, refused

PROBLEMS_KEPT = 1_000  # problems reported in full; the rest are counted
SHOWN_CHARS = 60
ROW_SKIPPED = "row skipped"
Key = tuple[str, ...]
DIGITS = re.compile(r"(\d+)")


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}..."


@dataclass(frozen=True)
class ImportProblem:
    """One value of one row of the file that the import refused, and where it is."""

    where: str  # file:line, and the JSON pointer
    table: str
    row_id: str | None
    column: str
    value: Any
    allowed: str
    handling: str = ROW_SKIPPED
    missing: bool = False

    def __str__(self) -> str:
        found = "is missing" if self.missing else f"{shown(self.value)} is not allowed"
        row = f"{self.table} {self.row_id}" if self.row_id else self.table
        expected = f"expected {self.allowed}; {self.handling}"
        return f"{self.where}: {row}: {self.column} {found}; {expected}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "table": self.table,
            "id": self.row_id,
            "column": self.column,
            "value": None if self.missing else shown(self.value),
            "allowed": self.allowed,
            "handling": self.handling,
        }


@dataclass
class TableCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    removed: int = 0  # parties only: stored parties replaced


@dataclass
class ImportReport:
    """What the import did (or, with --dry-run, would do), by table, and every refusal."""

    file: str
    dry_run: bool
    tables: dict[str, TableCounts] = field(
        default_factory=lambda: {table: TableCounts() for table in TABLE_ORDER}
    )
    problems: list[ImportProblem] = field(default_factory=list)
    problem_count: int = 0
    addresses_not_kept: int = 0

    def add(self, problem: ImportProblem) -> None:
        self.problem_count += 1
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(problem)

    def in_file_order(self) -> None:
        """Problems by file and line, whichever pass found them."""
        self.problems.sort(key=lambda problem: _natural(problem.where))

    @property
    def rejected(self) -> int:
        return sum(counts.rejected for counts in self.tables.values())


def _natural(where: str) -> list[Any]:
    """'crm.json:9 (/lead/2)' before 'crm.json:10 (/lead/3)': numbers compare as numbers."""
    return [int(part) if part.isdigit() else part for part in DIGITS.split(where)]


def raw_key(row: SourceRow) -> Key | None:
    """The row's key as the file gives it, when every part is a non-empty text."""
    parts = [row.values.get(column) for column in MODELS[row.table].key_columns]
    if parts and all(isinstance(part, str) and part.strip() for part in parts):
        return tuple(str(part).strip() for part in parts)
    return None


def row_id(row: SourceRow) -> str | None:
    key = raw_key(row)
    return "/".join(key) if key else None


def validation_problems(row: SourceRow, error: ValidationError) -> list[ImportProblem]:
    """Each column pydantic refused, with what it allows."""
    model = MODELS[row.table]
    problems = []
    for item in error.errors(include_url=False):
        column, allowed = refused(model, item)
        problems.append(
            ImportProblem(
                row.where(),
                row.table,
                row_id(row),
                column,
                item.get("input"),
                allowed,
                missing=item["type"] == "missing",
            )
        )
    return problems


def validated(row: SourceRow, context: RowContext) -> tuple[FileRow | None, list[ImportProblem]]:
    """The row as its table's model, or the problems that refuse it."""
    if row.defect is not None:
        problem = ImportProblem(
            row.where(), row.table, None, "(row)", "(row)", row.defect, missing=True
        )
        return None, [problem]
    try:
        return MODELS[row.table].model_validate(row.values, context=context), []
    except ValidationError as error:
        return None, validation_problems(row, error)


def handled(problem: ImportProblem, handling: str) -> ImportProblem:
    return ImportProblem(
        problem.where,
        problem.table,
        problem.row_id,
        problem.column,
        problem.value,
        problem.allowed,
        handling,
        problem.missing,
    )
