"""One record's relationship_kpi values, encoded once.

A first run writes a KPI row for every record (tens of thousands per run), and
write-back reads each row's values twice: for the digest that tells whether
the row changed, and to write the row. The JSON columns are therefore encoded
once, by whoever builds the values (`JsonColumn`), and reused by both; the
caller can share one encoding between records whose values are the same
object (records with the same weekly timeline share it). On PostgreSQL a batch
of rows is one payload of COPY text format, made as bytes (msgspec's encodings
are bytes, and so is what psycopg sends): each row's scalars from one msgspec
encoding of them all, its JSON columns as escaped once (`JsonColumn.copy`).
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import msgspec

from storage.bulk import COPY_NULL, RowFormat, copy_text

_NOT_DECODED: Any = object()  # JsonColumn.encoded: the value is decoded from the text


class JsonColumn:
    """A JSON column's JSON text (msgspec's compact encoding, as bytes) and its value.

    PostgreSQL stores the text as it is (the columns are `json`, not `jsonb`)
    and the digest reads it; SQLite binds the value, which its JSON type
    encodes as it always has. `text`, when given, must be the encoding of
    `value`; `encoded(data)` leaves the value to be decoded from the bytes if
    it is ever asked for (SQLite only), so the hot path encodes once and
    builds no value. Its COPY text (PostgreSQL) is made once too: a column
    shared between records (a timeline) is escaped once for all of them.
    """

    __slots__ = ("_value", "data", "copy")

    def __init__(self, value: Any, text: str | None = None) -> None:
        self._value = value
        self.data: bytes = msgspec.json.encode(value) if text is None else text.encode()
        self.copy: bytes = _json_copy(self.data)

    @classmethod
    def encoded(cls, data: bytes) -> JsonColumn:
        """The column whose JSON encoding is `data`; its value is decoded when asked for."""
        column = cls.__new__(cls)
        column._value, column.data = _NOT_DECODED, data
        column.copy = _json_copy(data)
        return column

    @property
    def text(self) -> str:
        return self.data.decode()

    @property
    def value(self) -> Any:
        if self._value is _NOT_DECODED:
            self._value = msgspec.json.decode(self.data)
        return self._value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonColumn) and other.data == self.data

    def __hash__(self) -> int:
        return hash(self.data)

    def __repr__(self) -> str:
        return f"JsonColumn({self.text})"


def _json_copy(data: bytes) -> bytes:
    """Compact JSON as a field of COPY text format: JSON writes every control character
    in a string as an escape, and compact JSON has none between its tokens, so of what
    COPY escapes (backslash, tab, newline, carriage return) only backslashes occur."""
    return data.replace(b"\\", b"\\\\") if b"\\" in data else data


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
# encoded on its own (`_encoded_runs`); its text is the digest's and the row's.
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


_encode = msgspec.json.Encoder().encode
_head, _middle, _tail = (operator.itemgetter(*run) for run in _RUNS)
_json_columns = operator.itemgetter(*_JSON_AT)
Runs = tuple[bytes, bytes, bytes]  # each run of scalars, encoded as a JSON array


def digested(values: KpiValues) -> tuple[str, Runs]:
    """The digest of one record's KPI values (`kpi_digest`), and its runs of scalars
    encoded on the way, for the row's COPY line (`kpi_copy_data`).

    The JSON array of all the values is joined from the runs' arrays and the JSON
    columns' texts: the bytes one encoding of the whole tuple gives.
    """
    head, middle, tail = _encode(_head(values)), _encode(_middle(values)), _encode(_tail(values))
    weekly, most_contacted, factors, reasons = _json_columns(values)
    encoded = b",".join(
        (
            head[:-1],
            weekly.data,
            most_contacted.data,
            middle[1:-1],
            factors.data,
            reasons.data,
            tail[1:],
        )
    )
    return hashlib.blake2b(encoded, digest_size=16).hexdigest(), (head, middle, tail)


def kpi_digest(values: KpiValues) -> str:
    """Stable digest of one record's KPI values.

    It hashes the JSON array of the values, with each JSON column's text in
    place: the same bytes as encoding the plain values, so digests stored by
    earlier runs still match.
    """
    return digested(values)[0]


class KpiRow(NamedTuple):
    """One relationship_kpi row to write; `computed_at` comes with its RowFormat.
    `runs`: its scalars as `digested` encoded them (None: encoded when written)."""

    record_type: str
    record_id: str
    values: KpiValues
    digest: str
    runs: Runs | None = None


def kpi_row_format(computed_at: datetime) -> RowFormat[KpiRow]:
    """KPI rows in KPI_COLUMNS order, all computed at `computed_at`."""

    def bound(row: KpiRow) -> tuple[Any, ...]:
        values = [v.value if isinstance(v, JsonColumn) else v for v in row.values]
        return (row.record_type, row.record_id, *values, row.digest, computed_at)

    def line(row: KpiRow) -> str:
        return kpi_copy_data([row], computed_at).decode()

    return RowFormat(bound, line, _key)


_TAB = b"\t"


def kpi_copy_data(rows: Sequence[KpiRow], computed_at: datetime) -> bytes:
    """The rows as COPY text format, one line each in KPI_COLUMNS order, all in one
    bytes; the keys and the scalars of all of them made into fields at once, a run at
    a time (`copy_keys`, `_scalar_fields`)."""
    end = f"\t{computed_at.isoformat()}\n".encode()
    tab = _TAB
    runs = [row.runs or digested(row.values)[1] for row in rows]
    heads = _scalar_fields([_head(row.values) for row in rows], [r[0] for r in runs])
    middles = _scalar_fields([_middle(row.values) for row in rows], [r[1] for r in runs])
    tails = _scalar_fields([_tail(row.values) for row in rows], [r[2] for r in runs])
    keys = copy_keys([row.record_type for row in rows], [row.record_id for row in rows])
    parts: list[bytes] = []
    for row, key, head, middle, tail in zip(rows, keys, heads, middles, tails, strict=True):
        weekly, most_contacted, factors, reasons = _json_columns(row.values)
        parts += (
            key,
            head,
            tab,
            weekly.copy,
            tab,
            most_contacted.copy,
            middle,
            tab,
            factors.copy,
            tab,
            reasons.copy,
            tail,
            tab,
            row.digest.encode(),  # hexadecimal: nothing to escape
            end,
        )
    return b"".join(parts)


def copy_keys(record_types: list[str], record_ids: list[str]) -> list[bytes]:
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


def _key(row: KpiRow) -> tuple[str, str]:
    return (row.record_type, row.record_id)


def _scalar_fields(rows: list[tuple[Any, ...]], encodings: list[bytes]) -> list[bytes]:
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
        or encoded.count(b"null") != sum(scalars.count(None) for scalars in rows)
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
