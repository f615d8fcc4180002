"""One record's relationship_kpi values, encoded once.

A first run writes a KPI row for every record (tens of thousands per run), and
write-back reads each row's values twice: for the digest that tells whether
the row changed, and to write the row. The JSON columns are therefore encoded
once, by whoever builds the values (`JsonColumn`), and reused by both; the
caller can share one encoding between records whose values are the same
object (most records share their weekly timeline). On PostgreSQL the row is
one line of COPY text format: its scalars from one msgspec encoding of them
all, its JSON columns as escaped once (`JsonColumn.copy`).
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
    """A JSON column's JSON text (msgspec's compact encoding) and its value.

    PostgreSQL stores the text as it is (the columns are `json`, not `jsonb`)
    and the digest reads it; SQLite binds the value, which its JSON type
    encodes as it always has. `text`, when given, must be the encoding of
    `value`; `encoded(text)` leaves the value to be decoded from the text if
    it is ever asked for (SQLite only), so the hot path encodes once and
    builds no value. The text's `msgspec.Raw` (for the digest) and its COPY
    text (PostgreSQL) are made once too: a column shared between records (a
    timeline, a list of reasons) is escaped once for all of them.
    """

    __slots__ = ("_value", "text", "raw", "copy")

    def __init__(self, value: Any, text: str | None = None) -> None:
        self._value = value
        self.text: str = msgspec.json.encode(value).decode() if text is None else text
        self.raw = msgspec.Raw(self.text)
        self.copy = copy_text(self.text)

    @classmethod
    def encoded(cls, text: str) -> JsonColumn:
        """The column whose JSON text is `text`; its value is decoded when asked for."""
        return cls(_NOT_DECODED, text)

    @property
    def value(self) -> Any:
        if self._value is _NOT_DECODED:
            self._value = msgspec.json.decode(self.text)
        return self._value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonColumn) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"JsonColumn({self.text})"


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
# Where KpiValues holds the values that are not JSON lists: numbers, text, times.
_SCALAR_AT = tuple(at for at, name in enumerate(KPI_VALUES) if name not in JSON_COLUMNS)
_JSON_AT = tuple(KPI_VALUES.index(name) for name in JSON_COLUMNS)
# The order rows are written in: the key, every scalar, the JSON lists, the digest
# (COPY names its columns, so the scalars can be one run of fields: `_scalar_fields`).
KPI_COLUMNS = (
    *KPI_KEY,
    *(KPI_VALUES[at] for at in _SCALAR_AT),
    *JSON_COLUMNS,
    "kpi_digest",
    "computed_at",
)


def _raw_json(value: Any) -> msgspec.Raw:
    if isinstance(value, JsonColumn):
        return value.raw
    raise NotImplementedError(f"{type(value).__name__} is not a KPI value")


_DIGEST_ENCODER = msgspec.json.Encoder(enc_hook=_raw_json)


def kpi_digest(values: KpiValues) -> str:
    """Stable digest of one record's KPI values.

    It hashes the JSON array of the values, with each JSON column's text in
    place: the same bytes as encoding the plain values, so digests stored by
    earlier runs still match.
    """
    return hashlib.blake2b(_DIGEST_ENCODER.encode(values), digest_size=16).hexdigest()


class KpiRow(NamedTuple):
    """One relationship_kpi row to write; `computed_at` comes with its RowFormat."""

    record_type: str
    record_id: str
    values: KpiValues
    digest: str


def kpi_row_format(computed_at: datetime) -> RowFormat[KpiRow]:
    """KPI rows in KPI_COLUMNS order, all computed at `computed_at`."""

    def bound(row: KpiRow) -> tuple[Any, ...]:
        values = row.values
        scalars = _scalars(values)
        lists = [column.value for column in _json_columns(values)]
        return (row.record_type, row.record_id, *scalars, *lists, row.digest, computed_at)

    def line(row: KpiRow) -> str:
        return kpi_copy_lines([row], computed_at)[0]

    return RowFormat(bound, line, _key)


def kpi_copy_lines(rows: Sequence[KpiRow], computed_at: datetime) -> list[str]:
    """The rows as lines of COPY text format, in KPI_COLUMNS order; the scalars of all
    of them made into fields at once (`_scalar_fields`)."""
    at = computed_at.isoformat()
    lines = []
    scalar_fields = _scalar_fields([_scalars(row.values) for row in rows])
    for row, scalars in zip(rows, scalar_fields, strict=True):
        weekly, most_contacted, factors, reasons = _json_columns(row.values)
        lines.append(
            f"{copy_text(row.record_type)}\t{copy_text(row.record_id)}{scalars}\t"
            f"{weekly.copy}\t{most_contacted.copy}\t{factors.copy}\t{reasons.copy}\t"
            f"{row.digest}\t{at}\n"  # a digest is hexadecimal: nothing to escape
        )
    return lines


def _key(row: KpiRow) -> tuple[str, str]:
    return (row.record_type, row.record_id)


_scalars = operator.itemgetter(*_SCALAR_AT)
_json_columns = operator.itemgetter(*_JSON_AT)
_encode_scalars = msgspec.json.Encoder().encode
_SEPARATORS = len(_SCALAR_AT) - 1


def _scalar_fields(rows: list[tuple[Any, ...]]) -> list[str]:
    """Each row's scalars as COPY text fields, each field after a tab, from msgspec's
    encoding of each row, made into fields for all the rows at once.

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
    encoded = b"\n".join([_encode_scalars(scalars) for scalars in rows])
    if (
        b"\\" in encoded
        or encoded.count(b",") != _SEPARATORS * len(rows)
        or encoded.count(b"null") != sum(scalars.count(None) for scalars in rows)
    ):
        if len(rows) == 1:
            return ["\t" + _fields_one_by_one(rows[0])]
        half = len(rows) // 2
        return _scalar_fields(rows[:half]) + _scalar_fields(rows[half:])
    # "[a,b]\n[c,d]" -> ",a,b\n,c,d": a comma before every field (no newline can be
    # inside an encoding: JSON escapes it), then the replacements.
    fields = b"," + encoded[1:-1].replace(b"]\n[", b"\n,")
    fields = fields.replace(b",null", b",\\N").replace(b'"', b"").replace(b",", b"\t")
    return fields.decode().split("\n")


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
