"""Reading a CRM import file row by row, with where each row is: JSON or a CSV bundle.

A file is read twice (the import first learns every id, then validates and
writes), each time as a stream: a 150k-activity file never sits in memory
as Python objects. JSON is scanned table by table with the standard decoder
taking one row object at a time, which also tells the line a row starts on;
a CSV bundle is a directory or a .zip holding one `TABLE.csv` per table.

A file that cannot be read as a whole (missing, not JSON, an unknown table,
an unknown CSV column) raises ImportFileError, whose message names the file,
the line and what is allowed; a row that is wrong on its own is handed on
with its `defect` for the import to report.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from crm.file_rows import MODELS

PARTY_TABLE = "crm_activity_party"
ACTIVITY_TABLE = "crm_activity"
JSON_TABLES = tuple(table for table in MODELS if table != PARTY_TABLE)  # parties nest
CHUNK = 1 << 20  # characters read at a time
WHITE_SPACE = re.compile(r"[ \t\n\r]*")


class ImportFileError(Exception):
    """The file as a whole cannot be imported; the message names file, line and why."""


@dataclass(slots=True)
class SourceRow:
    """One row as the file gives it, and where it is."""

    file: str  # the file (or bundle member) it is in
    table: str
    index: int  # its position in its table, the same on every read
    line: int  # the line it starts on
    values: dict[str, Any]
    pointer: str | None = None  # JSON: /table/index
    defect: str | None = None  # wrong as a whole (not an object, cells missing)
    parties: list[SourceRow] | None = None  # an activity's; None: the file gives none

    def where(self) -> str:
        place = f"{self.file}:{self.line}"
        return f"{place} ({self.pointer})" if self.pointer else place


class _JsonScanner:
    """The top level of an import file, `{"table": [row, ...], ...}`, one row at a time."""

    def __init__(self, stream: IO[str], name: str) -> None:
        self.stream, self.name = stream, name
        self.buffer, self.pos, self.line, self.eof = "", 0, 1, False
        self.decoder = json.JSONDecoder()

    def _fill(self) -> bool:
        if self.eof:
            return False
        more = self.stream.read(CHUNK)
        if not more:
            self.eof = True
            return False
        self.buffer = self.buffer[self.pos :] + more
        self.pos = 0
        return True

    def _advance(self, to: int) -> None:
        self.line += self.buffer.count("\n", self.pos, to)
        self.pos = to

    def _error(self, expected: str, at: int | None = None) -> ImportFileError:
        at = self.pos if at is None else at
        line = self.line + self.buffer.count("\n", self.pos, at)
        column = at - self.buffer.rfind("\n", 0, at)
        return ImportFileError(f"{self.name}:{line}:{column}: not JSON as expected: {expected}")

    def peek(self) -> str:
        """The next character that is not white space ('' at the end)."""
        while True:
            self._advance(WHITE_SPACE.match(self.buffer, self.pos).end())  # type: ignore[union-attr]
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._fill():
                return ""

    def expect(self, allowed: str, expected: str) -> str:
        found = self.peek()
        if not found or found not in allowed:
            raise self._error(expected)
        self._advance(self.pos + 1)
        return found

    def value(self, expected: str) -> Any:
        """The next JSON value, read whole; more of the file is read while it is cut."""
        self.peek()
        last: tuple[str, int] | None = None
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as problem:
                cut = problem.pos >= len(self.buffer) - 1 or (problem.msg, problem.pos) != last
                last = (problem.msg, problem.pos)
                if cut and self._fill():
                    continue
                raise self._error(f"{expected} ({problem.msg})", problem.pos) from None
            self._advance(end)
            return value


def _json_table_name(scanner: _JsonScanner, seen: set[str]) -> str:
    scanner.peek()
    line = scanner.line
    name = scanner.value("a table name in quotes")
    if not isinstance(name, str) or name not in JSON_TABLES:
        shown = json.dumps(name) if isinstance(name, str) else "a non-text key"
        raise ImportFileError(
            f"{scanner.name}:{line}: {shown} is not a table of the import format; expected "
            f'{", ".join(JSON_TABLES)} (parties go in their activity\'s "parties" list)'
        )
    if name in seen:
        raise ImportFileError(f'{scanner.name}:{line}: table "{name}" appears twice')
    seen.add(name)
    return name


def _party_rows(activity: SourceRow, parties: Any) -> list[SourceRow]:
    pointer = f"{activity.pointer}/parties"
    if not isinstance(parties, list):
        defect = "a list of parties"
        return [SourceRow(activity.file, PARTY_TABLE, 0, activity.line, {}, pointer, defect)]
    rows = []
    for index, party in enumerate(parties):
        row = SourceRow(activity.file, PARTY_TABLE, index, activity.line, {}, f"{pointer}/{index}")
        if isinstance(party, dict):
            row.values = {**party, "activity_id": activity.values.get("id")}
        else:
            row.defect = "a JSON object of columns"
        rows.append(row)
    return rows


def _json_row(scanner: _JsonScanner, table: str, index: int, with_parties: bool) -> SourceRow:
    scanner.peek()  # the row starts on the line of its "{"
    line = scanner.line
    value = scanner.value("a row object")
    row = SourceRow(scanner.name, table, index, line, {}, f"/{table}/{index}")
    if not isinstance(value, dict):
        row.defect = "a JSON object of columns"
        return row
    given = table == ACTIVITY_TABLE and "parties" in value
    parties = value.pop("parties", None) if given else None
    row.values = value
    if given and with_parties:
        row.parties = _party_rows(row, parties)
    return row


def _json_table(scanner: _JsonScanner, table: str, with_parties: bool) -> Iterator[SourceRow]:
    scanner.expect("[", f'a list of rows for "{table}"')
    if scanner.peek() == "]":
        scanner.expect("]", "]")
        return
    index = 0
    while True:
        yield _json_row(scanner, table, index, with_parties)
        index += 1
        if scanner.expect(",]", "',' or ']' after a row") == "]":
            return


def json_rows(path: Path, name: str, with_parties: bool) -> Iterator[SourceRow]:
    """Every row of a JSON import file, in file order."""
    with _open_text(path, name) as stream:
        scanner = _JsonScanner(stream, name)
        try:
            yield from _json_tables(scanner, with_parties)
        except UnicodeDecodeError as problem:
            raise ImportFileError(f"{name}: not UTF-8 text ({problem.reason})") from None


def _json_tables(scanner: _JsonScanner, with_parties: bool) -> Iterator[SourceRow]:
    scanner.expect("{", 'an object {"table": [rows], ...}')
    seen: set[str] = set()
    if scanner.peek() == "}":
        scanner.expect("}", "}")
    else:
        while True:
            table = _json_table_name(scanner, seen)
            scanner.expect(":", "':' after the table name")
            yield from _json_table(scanner, table, with_parties)
            if scanner.expect(",}", "',' or '}' after a table") == "}":
                break
    if scanner.peek():
        raise scanner._error("nothing after the closing '}'")


def _open_text(path: Path, name: str) -> IO[str]:
    try:
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as problem:
        raise ImportFileError(f"{name}: cannot read: {problem.strerror or problem}") from None


class CsvBundle:
    """One `TABLE.csv` per table, in a directory or a .zip archive."""

    def __init__(self, path: Path, name: str) -> None:
        self.path, self.name = path, name
        self.members = self._members()

    def _members(self) -> dict[str, str]:
        """table -> file (or archive member) name."""
        names = self._names()
        members: dict[str, str] = {}
        for member in names:
            stem = Path(member).name.removesuffix(".csv")
            if not member.endswith(".csv") or Path(member).name.startswith("."):
                continue
            if stem not in MODELS:
                raise ImportFileError(
                    f"{self.name}: {member} is not a table of the import format; expected "
                    f"TABLE.csv with TABLE one of {', '.join(MODELS)}"
                )
            if stem in members:
                raise ImportFileError(f"{self.name}: {stem}.csv appears twice")
            members[stem] = member
        if not members:
            raise ImportFileError(
                f"{self.name}: no TABLE.csv file; expected one or more of "
                f"{', '.join(f'{table}.csv' for table in MODELS)}"
            )
        return members

    def _names(self) -> list[str]:
        try:
            if self.path.is_dir():
                return sorted(entry.name for entry in self.path.iterdir() if entry.is_file())
            with zipfile.ZipFile(self.path) as archive:
                return [info.filename for info in archive.infolist() if not info.is_dir()]
        except zipfile.BadZipFile:
            raise ImportFileError(f"{self.name}: not a zip archive") from None
        except OSError as problem:
            raise ImportFileError(f"{self.name}: cannot read: {problem.strerror}") from None

    @contextmanager
    def _open(self, member: str) -> Iterator[IO[str]]:
        if self.path.is_dir():
            with _open_text(self.path / member, f"{self.name}/{member}") as stream:
                yield stream
            return
        with zipfile.ZipFile(self.path) as archive, archive.open(member) as raw:
            yield io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")

    def rows(self, with_parties: bool) -> Iterator[SourceRow]:
        """Every row, table by table in TABLE_ORDER; parties inside their activity."""
        parties = self._grouped_parties() if with_parties else None
        for table in JSON_TABLES:
            if table not in self.members:
                continue
            for row in self._table_rows(table):
                if table == ACTIVITY_TABLE and parties is not None:
                    row.parties = parties.pop(str(row.values.get("id", "")).strip(), [])
                yield row
        for orphans in (parties or {}).values():
            yield from orphans  # parties of no activity in the bundle: reported

    def _grouped_parties(self) -> dict[str, list[SourceRow]] | None:
        """Party rows by activity id (held once, as read), or None without a party file."""
        if PARTY_TABLE not in self.members:
            return None
        grouped: dict[str, list[SourceRow]] = {}
        for row in self._table_rows(PARTY_TABLE):
            activity_id = str(row.values.get("activity_id") or "").strip()
            grouped.setdefault(activity_id, []).append(row)
        return grouped

    def _table_rows(self, table: str) -> Iterator[SourceRow]:
        member = self.members[table]
        inside = "/" if self.path.is_dir() else ":"
        where = f"{self.name}{inside}{member}"
        try:
            with self._open(member) as stream:
                yield from _csv_rows(stream, table, where)
        except UnicodeDecodeError as problem:
            raise ImportFileError(f"{where}: not UTF-8 text ({problem.reason})") from None
        except csv.Error as problem:
            raise ImportFileError(f"{where}: not CSV as expected: {problem}") from None


def _csv_header(reader: Any, table: str, where: str) -> list[str]:
    header = [column.strip() for column in next(reader, [])]
    columns = MODELS[table].model_fields
    for column in header:
        if column not in columns:
            raise ImportFileError(
                f"{where}:1: column {column!r} is not a column of {table}; expected "
                f"{', '.join(columns)}"
            )
    if len(set(header)) != len(header):
        raise ImportFileError(f"{where}:1: a column appears twice in the header")
    return header


def _csv_rows(stream: IO[str], table: str, where: str) -> Iterator[SourceRow]:
    reader = csv.reader(stream)
    header = _csv_header(reader, table, where)
    index = 0
    line = reader.line_num + 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            row = SourceRow(where, table, index, line, dict(zip(header, cells, strict=False)))
            if len(cells) != len(header):
                row.defect = f"{len(header)} cells, one per header column (found {len(cells)})"
            yield row
            index += 1
        line = reader.line_num + 1


def is_csv_bundle(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() == ".zip"


def source_rows(path: Path, with_parties: bool) -> Iterator[SourceRow]:
    """The rows of the import file at `path`, JSON or a CSV bundle."""
    name = str(path)
    if not path.exists():
        raise ImportFileError(f"{name}: no such file or directory")
    if is_csv_bundle(path):
        return CsvBundle(path, name).rows(with_parties)
    return json_rows(path, name, with_parties)
