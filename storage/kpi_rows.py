"""Relationship_kpi rows: each record's values, their digest and their COPY text.

A first run writes a KPI row for every record (tens of thousands per run), and
write-back reads each row's values twice: for the digest that tells whether
the row changed, and to write the row. The JSON columns are therefore encoded
once, by whoever builds the values (`JsonColumn`), and reused by both; the
caller can share one encoding between records whose values are the same
object (records with the same weekly timeline share it). A batch of records is
encoded together (`KpiBatch`): each run of scalars of all of them in one msgspec
call, from which both their digests and, on PostgreSQL, their rows as one
payload of COPY text format are made (msgspec's encodings are bytes, and so is
what psycopg sends), joined by C-level calls over the batch's lists rather than
by Python code per record.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from itertools import repeat
from typing import Any, NamedTuple

import msgspec

from storage.bulk import COPY_NULL, copy_text


class JsonColumn(bytes):
    """A JSON column: its JSON text (msgspec's compact encoding), as the bytes it is.

    PostgreSQL stores the text as it is (the columns are `json`, not `jsonb`)
    and the digest reads it; SQLite binds the value (`value`, decoded from the
    text when asked), which its JSON type encodes as it always has. Being the
    bytes, a column made from an encoding (`json_column`) costs one C call, and
    a batch's texts join without an attribute read each.
    """

    __slots__ = ()

    def __new__(cls, value: Any, text: str | None = None) -> JsonColumn:
        """The column of `value`; `text`, when given, must be its compact encoding."""
        return super().__new__(cls, msgspec.json.encode(value) if text is None else text.encode())

    @property
    def text(self) -> str:
        return self.decode()

    @property
    def value(self) -> Any:
        return msgspec.json.decode(self)

    def __repr__(self) -> str:
        return f"JsonColumn({self.text})"


# The column whose JSON encoding is the given bytes, made in C (one per record scored).
json_column: Callable[[bytes], JsonColumn] = partial(bytes.__new__, JsonColumn)


def _json_copies(columns: Sequence[JsonColumn]) -> Sequence[bytes]:
    """Compact JSON texts as fields of COPY text format: JSON writes every control
    character in a string as an escape, and compact JSON has none between its tokens, so
    of what COPY escapes (backslash, tab, newline, carriage return) only backslashes
    occur; most texts have none (looked for by one C-level pass over them all)."""
    if not any(map(operator.contains, columns, repeat(b"\\"))):
        return columns
    return [data.replace(b"\\", b"\\\\") for data in columns]


EMPTY_LIST = JsonColumn((), "[]")


class KpiValues(NamedTuple):
    """Every value column of relationship_kpi, in the table's column order.

    The KPIs come first: scoring.model.Kpis's fields, in its order, which is where
    the list is defined; the record's health, reasons and weakest key contact
    follow. storage imports nothing of ours, so the two are held together by
    tests/storage/test_kpi_rows.py, and this tuple with the table by the same file.
    """

    emails_sent: int = 0
    emails_received: int = 0
    meetings_sent: int = 0
    meetings_received: int = 0
    phone_calls_made: int = 0
    phone_calls_received: int = 0
    replies_by_us: int = 0
    replies_by_them: int = 0
    time_spent_by_team_minutes: float = 0.0
    time_spent_by_customer_minutes: float = 0.0
    avg_first_response_by_us_hours: float | None = None
    avg_first_response_by_them_hours: float | None = None
    response_rate_by_us: float | None = None
    response_rate_by_them: float | None = None
    last_activity_at: datetime | None = None
    last_activity_kind: str | None = None
    last_activity_direction: str | None = None
    next_activity_at: datetime | None = None
    next_activity_kind: str | None = None
    email_opens: int = 0
    email_clicks: int = 0
    weekly: JsonColumn = EMPTY_LIST
    most_contacted: JsonColumn = EMPTY_LIST
    computation_accuracy: str = "complete"
    health_score: int | None = None
    health_state: int | None = None
    health_trend: int | None = None
    factors: JsonColumn = EMPTY_LIST
    reasons: JsonColumn = EMPTY_LIST
    weakest_contact_id: str | None = None
    weakest_contact_role: str | None = None
    weakest_contact_score: int | None = None
    weakest_contact_since: datetime | None = None


KPI_VALUES = KpiValues._fields
KPI_KEY = ("record_type", "record_id")
JSON_COLUMNS = ("weekly", "most_contacted", "factors", "reasons")
_JSON_AT = tuple(KPI_VALUES.index(name) for name in JSON_COLUMNS)
# KpiValues is three runs of scalars (numbers, text, times) with two JSON lists after
# each of the first two: the KPIs' scalars, the timeline and top colleagues, the
# accuracy and health, the factors and reasons, the weakest key contact. Each run is
# encoded on its own, for a whole batch at once (`KpiBatch`); its text is the digest's
# and the row's.
_WEEKLY, _MOST_CONTACTED, _FACTORS, _REASONS = _JSON_AT
if (_MOST_CONTACTED, _REASONS) != (_WEEKLY + 1, _FACTORS + 1) or _FACTORS <= _MOST_CONTACTED + 1:
    raise RuntimeError(f"KpiValues {KPI_VALUES} is not three runs of scalars around JSON lists")
_RUNS = (
    range(_WEEKLY),
    range(_MOST_CONTACTED + 1, _FACTORS),
    range(_REASONS + 1, len(KPI_VALUES)),
)
# Rows are written in KpiValues' order (as the digest reads them): the key, the values,
# the digest.
KPI_COLUMNS = (*KPI_KEY, *KPI_VALUES, "kpi_digest", "computed_at")


_encode_lines = msgspec.json.Encoder().encode_lines
_blake2b = hashlib.blake2b
_RUN_VALUES = tuple(operator.itemgetter(*run) for run in _RUNS)
_json_columns = operator.itemgetter(*_JSON_AT)
# Each run's JSON array as it stands in the array of all the values: the first without
# its closing bracket, the middle one without either bracket, the last without its
# opening one.
_IN_ARRAY = (
    operator.itemgetter(slice(None, -1)),
    operator.itemgetter(slice(1, -1)),
    operator.itemgetter(slice(1, None)),
)


class KpiBatch:
    """Records' KPI values with each run of scalars of all of them encoded by one msgspec
    call (a JSON array a record, `_RUNS`), and each record's digest (`digests`, the
    `kpi_digest` column) made from those arrays and the JSON columns' texts. The
    rows' COPY text (`copy_data`) reuses the arrays.
    """

    def __init__(self, values: Sequence[KpiValues]) -> None:
        self.values = values
        self._runs = [list(map(run, values)) for run in _RUN_VALUES]
        # encode_lines: one JSON array a line, every line ending with a newline (JSON
        # writes none inside a text).
        self._arrays = [_encode_lines(run).split(b"\n")[:-1] for run in self._runs]
        self.digests = self._digests()

    def _digests(self) -> list[str]:
        """blake2b over the JSON array of all of a record's values, joined from its runs'
        arrays and its JSON columns' texts: the bytes one encoding of the whole tuple
        gives, so that digests stored by earlier runs still match."""
        if not self.values:
            return []
        head, middle, tail = (
            map(cut, arrays) for cut, arrays in zip(_IN_ARRAY, self._arrays, strict=True)
        )
        weekly, most_contacted, factors, reasons = zip(
            *map(_json_columns, self.values), strict=True
        )
        parts = zip(head, weekly, most_contacted, middle, factors, reasons, tail, strict=True)
        return [_blake2b(array, digest_size=16).hexdigest() for array in map(b",".join, parts)]

    def copy_data(
        self,
        at: Sequence[int],
        record_types: Sequence[str],
        record_ids: Sequence[str],
        computed_at: datetime,
    ) -> bytes:
        """The rows of the records at `at` (ascending indexes into the batch; the types
        and ids are the batch's) as COPY text format, one line each in KPI_COLUMNS
        order; each column's fields made for all the rows at once (`copy_keys`,
        `_scalar_fields`, `_json_copies`) and joined into lines by `copy_lines`."""
        if not at:
            return b""
        values = _picked(self.values, at)
        head, middle, tail = (
            _scalar_fields(_picked(run, at), _picked(arrays, at))
            for run, arrays in zip(self._runs, self._arrays, strict=True)
        )
        weekly, most_contacted, factors, reasons = map(
            _json_copies, zip(*map(_json_columns, values), strict=True)
        )
        keys = copy_keys(_picked(record_types, at), _picked(record_ids, at))
        digests = "\n".join(_picked(self.digests, at)).encode().split(b"\n")  # hexadecimal
        end = f"\t{computed_at.isoformat()}\n".encode()
        tab = _TAB
        line = (keys, head, tab, weekly, tab, most_contacted, middle, tab, factors, tab, reasons)
        return copy_lines(len(at), (*line, tail, tab, digests, end))


def _picked(items: Sequence[Any], at: Sequence[int]) -> Sequence[Any]:
    """The items at `at` (ascending, distinct): all of them, as they are, when that is all."""
    return items if len(at) == len(items) else [items[index] for index in at]


_TAB = b"\t"


def copy_lines(count: int, fields: Sequence[Sequence[bytes] | bytes]) -> bytes:
    """`count` lines of COPY text format joined from their pieces, in order: each piece a
    sequence of `count` (one a line) or bytes (the same on every line). The pieces are
    interleaved by slice assignment: no Python code runs per line."""
    width = len(fields)
    parts: list[bytes] = [piece if isinstance(piece, bytes) else b"" for piece in fields] * count
    for position, piece in enumerate(fields):
        if not isinstance(piece, bytes):
            parts[position::width] = piece
    return b"".join(parts)


def kpi_digest(values: KpiValues) -> str:
    """Stable digest of one record's KPI values (KpiBatch.digests)."""
    return KpiBatch([values]).digests[0]


def kpi_row(
    record_type: str, record_id: str, values: KpiValues, digest: str, computed_at: datetime
) -> tuple[Any, ...]:
    """One row's Python values in KPI_COLUMNS order (SQLite binds them)."""
    plain = [value.value if isinstance(value, JsonColumn) else value for value in values]
    return (record_type, record_id, *plain, digest, computed_at)


def copy_keys(record_types: Sequence[str], record_ids: Sequence[str]) -> list[bytes]:
    """Each record's type and id as two fields of COPY text format (bytes), made for all
    the records at once: ids that COPY need not escape, as most are, are encoded in one
    call; otherwise each is escaped on its own."""
    if not record_ids:
        return []
    joined = "\n".join(record_ids)
    if any(c in joined for c in "\\\t\r") or joined.count("\n") != len(record_ids) - 1:
        joined = "\n".join([copy_text(record_id) for record_id in record_ids])
    prefixes = {kind: f"{copy_text(kind)}\t".encode() for kind in set(record_types)}
    ids = joined.encode().split(b"\n")
    return [prefixes[kind] + record_id for kind, record_id in zip(record_types, ids, strict=True)]


def _scalar_fields(rows: Sequence[tuple[Any, ...]], encodings: Sequence[bytes]) -> list[bytes]:
    """Each row's run of scalars as COPY text fields, each field after a tab, from
    msgspec's encoding of the run (`encodings`), made into fields for all the rows at
    once.

    Numbers, times and plain text read the same in a JSON array as in COPY text once
    the brackets and quotes go, nulls become \\N and commas tabs; msgspec writes them
    at C speed where formatting each value costs a few microseconds a row, and the
    replacements over the whole batch's text cost a few calls instead of a few a row.
    Only a text that JSON escapes (a backslash appears), that holds a comma (more
    commas than separators) or the word null (more nulls than None values), or a
    float JSON has no number for (NaN, infinity: msgspec writes null), could read
    otherwise: then each half of the rows is made alone, down to that row, which is
    formatted value by value.
    """
    if not rows:
        return []
    encoded = b"\n".join(encodings)
    if (
        b"\\" in encoded
        or encoded.count(b",") != (len(rows[0]) - 1) * len(rows)
        or encoded.count(b"null") != sum(map(tuple.count, rows, repeat(None)))
    ):
        if len(rows) == 1:
            return [("\t" + _fields_one_by_one(rows[0])).encode()]
        half = len(rows) // 2
        return _scalar_fields(rows[:half], encodings[:half]) + _scalar_fields(
            rows[half:], encodings[half:]
        )
    # "[a,b]\n[c,d]" -> ",a,b\n,c,d": a comma before every field (no newline can be
    # inside an encoding: JSON escapes it), then the replacements.
    fields = b"," + encoded[1:-1].replace(b"]\n[", b"\n,")
    fields = fields.replace(b",null", b",\\N").replace(b'"', b"").replace(b",", b"\t")
    return fields.split(b"\n")


def _fields_one_by_one(scalars: tuple[Any, ...]) -> str:
    return "\t".join([_field(value) for value in scalars])


def _field(value: Any) -> str:
    if value is None:
        return COPY_NULL
    if isinstance(value, str):
        return copy_text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # int; float: repr (NaN and infinity included)
