"""One record's relationship_kpi values, encoded once.

A first run writes a KPI row for every record (tens of thousands per run), and
write-back reads each row's values twice: for the digest that tells whether
the row changed, and to write the row. The JSON columns are therefore encoded
once, by whoever builds the values (`JsonColumn`), and reused by both; the
caller can share one encoding between records whose values are the same
object (most records share their weekly timeline). On PostgreSQL the row is
one hand-written line of COPY text format.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, NamedTuple

import msgspec

from storage.bulk import COPY_NULL, RowFormat, copy_text


class JsonColumn:
    """A JSON column's value and its JSON text (msgspec's compact encoding).

    PostgreSQL stores the text as it is (the columns are `json`, not `jsonb`)
    and the digest reads it; SQLite binds the value, which its JSON type
    encodes as it always has. `text`, when given, must be the encoding of
    `value`.
    """

    __slots__ = ("value", "text")

    def __init__(self, value: Any, text: str | None = None) -> None:
        self.value = value
        self.text: str = msgspec.json.encode(value).decode() if text is None else text

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
KPI_COLUMNS = (*KPI_KEY, *KPI_VALUES, "kpi_digest", "computed_at")


def _raw_json(value: Any) -> msgspec.Raw:
    if isinstance(value, JsonColumn):
        return msgspec.Raw(value.text)
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
    at = computed_at.isoformat()

    def bound(row: KpiRow) -> tuple[Any, ...]:
        values = (v.value if isinstance(v, JsonColumn) else v for v in row.values)
        return (row.record_type, row.record_id, *values, row.digest, computed_at)

    def line(row: KpiRow) -> str:
        return f"{_values_line(row)}{at}\n"

    return RowFormat(bound, line)


def _values_line(row: KpiRow) -> str:
    """The row up to computed_at in COPY text format: one f-string, types known per column."""
    (
        emails_sent,
        emails_received,
        meetings_sent,
        meetings_received,
        calls_made,
        calls_received,
        replies_by_us,
        replies_by_them,
        team_minutes,
        customer_minutes,
        us_hours,
        them_hours,
        us_rate,
        them_rate,
        last_at,
        last_kind,
        last_direction,
        next_at,
        next_kind,
        opens,
        clicks,
        weekly,
        most_contacted,
        accuracy,
        score,
        state,
        trend,
        factors,
        reasons,
        weakest_id,
        weakest_role,
        weakest_score,
        weakest_since,
    ) = row.values
    text, n = copy_text, COPY_NULL
    return (
        f"{text(row.record_type)}\t{text(row.record_id)}\t{emails_sent}\t{emails_received}\t"
        f"{meetings_sent}\t{meetings_received}\t{calls_made}\t{calls_received}\t"
        f"{replies_by_us}\t{replies_by_them}\t{team_minutes}\t{customer_minutes}\t"
        f"{n if us_hours is None else us_hours}\t{n if them_hours is None else them_hours}\t"
        f"{n if us_rate is None else us_rate}\t{n if them_rate is None else them_rate}\t"
        f"{n if last_at is None else last_at.isoformat()}\t"
        f"{n if last_kind is None else text(last_kind)}\t"
        f"{n if last_direction is None else text(last_direction)}\t"
        f"{n if next_at is None else next_at.isoformat()}\t"
        f"{n if next_kind is None else text(next_kind)}\t{opens}\t{clicks}\t"
        f"{text(weekly.text)}\t{text(most_contacted.text)}\t{text(accuracy)}\t"
        f"{n if score is None else score}\t{n if state is None else state}\t"
        f"{n if trend is None else trend}\t{text(factors.text)}\t{text(reasons.text)}\t"
        f"{n if weakest_id is None else text(weakest_id)}\t"
        f"{n if weakest_role is None else text(weakest_role)}\t"
        f"{n if weakest_score is None else weakest_score}\t"
        f"{n if weakest_since is None else weakest_since.isoformat()}\t"
        f"{text(row.digest)}\t"
    )
