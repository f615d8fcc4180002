"""One row of a CRM import file, per contract table: what each column may hold.

The models are the one home of the import's row rules (docs/crm-contract.md,
"Import file format"). Vocabularies come from storage.crm_tables and the time
and count bounds from storage.crm_activity_rules, the rules a run applies to
what a CRM wrote itself, so a row the import takes is a row the run takes.

Every field's description says what it allows: a rejected value is reported
with it. Checks that need the run's now (a completed activity cannot lie in
the future) read it from the validation context (`RowContext`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from storage.crm_activity_rules import EARLIEST, MAX_ENGAGEMENT, PLANNED_YEARS_AHEAD, TimeWindow
from storage.crm_tables import (
    ACTIVITY_DIRECTION_VALUES,
    ACTIVITY_KIND_VALUES,
    ACTIVITY_STATUS_VALUES,
    LEAD_STATUS_VALUES,
    OPPORTUNITY_STATUS_VALUES,
    PARTY_RECORD_TYPE_VALUES,
    PARTY_RESPONSE_VALUES,
    PARTY_ROLE_VALUES,
    REGARDING_TYPE_VALUES,
)

SPACE = re.compile(r"\s")
BOUND = "crm_bound"  # our own error type: its message is what the column allows


def out_of_bounds(allowed: str) -> PydanticCustomError:
    return PydanticCustomError(BOUND, allowed)


@dataclass(frozen=True)
class RowContext:
    """What validation needs besides the row: the times a row may hold as of now."""

    window: TimeWindow


def _window(info: ValidationInfo) -> TimeWindow:
    context = info.context
    return context.window if isinstance(context, RowContext) else TimeWindow(None, None)


def _empty_is_null(value: Any) -> Any:
    """A CSV cell or JSON string with nothing in it is no value.

    Called for most cells of every row a pull or an import validates: `isspace()` says
    what `not value.strip()` says (the same whitespace) without building a new string."""
    if isinstance(value, str) and (not value or value.isspace()):
        return None
    return value


def _iso_timestamp(value: Any) -> Any:
    """ISO 8601 text with a zone only: a number would be read as seconds since 1970."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise out_of_bounds("an ISO 8601 timestamp with a zone, e.g. 2025-01-31T09:30:00Z")
    if not value or value.isspace():
        return None
    if value[-1:].isspace() or value[:1].isspace():
        value = value.strip()
    if "z" in value:
        value = value.replace("z", "Z")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise out_of_bounds(
            "an ISO 8601 timestamp with a zone, e.g. 2025-01-31T09:30:00Z"
        ) from None
    if moment.tzinfo is None:
        raise out_of_bounds("a timestamp with a zone (Z or +hh:mm); without one it is ambiguous")
    if moment < EARLIEST:
        raise out_of_bounds(f"a time from {EARLIEST.date()} on")
    return moment


def _iso_date(value: Any) -> Any:
    value = _empty_is_null(value)
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip()) if isinstance(value, str) else _bad_date()
    except ValueError:
        return _bad_date()


def _bad_date() -> date:
    raise out_of_bounds("a date YYYY-MM-DD")


def _one_of(allowed: tuple[str, ...]) -> Any:
    def check(value: str | None) -> str | None:
        if value is not None and value not in allowed:
            raise out_of_bounds(f"one of {', '.join(allowed)}")
        return value

    return AfterValidator(check)


def _address(value: str | None) -> str | None:
    if value is not None and ("@" not in value or SPACE.search(value)):
        raise out_of_bounds("an email address (name@domain, no spaces)")
    return value


def _engagement(value: int) -> int:
    if not 0 <= value <= MAX_ENGAGEMENT:
        raise out_of_bounds(f"a whole number from 0 to {MAX_ENGAGEMENT}")
    return value


def _revenue(value: float | None) -> float | None:
    if value is not None and (not math.isfinite(value) or value < 0):
        raise out_of_bounds("a number from 0 (no currency sign)")
    return value


Key = Annotated[str, BeforeValidator(_empty_is_null), Field(description="a non-empty text")]
Text = Annotated[str, BeforeValidator(_empty_is_null), Field(description="a non-empty text")]
OptionalText = Annotated[
    str | None, BeforeValidator(_empty_is_null), Field(description="a text, or empty")
]
Reference = Annotated[
    str | None, BeforeValidator(_empty_is_null), Field(description="an id, or empty")
]
Email = Annotated[
    str,
    BeforeValidator(_empty_is_null),
    AfterValidator(_address),
    Field(description="an email address"),
]
OptionalEmail = Annotated[
    str | None,
    BeforeValidator(_empty_is_null),
    AfterValidator(_address),
    Field(description="an email address, or empty"),
]
Timestamp = Annotated[
    datetime | None,
    BeforeValidator(_iso_timestamp),
    Field(description="an ISO 8601 timestamp with a zone, or empty"),
]
Day = Annotated[
    date | None, BeforeValidator(_iso_date), Field(description="a date YYYY-MM-DD, or empty")
]


def _vocabulary(values: tuple[str, ...], optional: bool) -> Any:
    allowed = f"one of {', '.join(values)}" + (", or empty" if optional else "")
    return Field(description=allowed)


class FileRow(BaseModel):
    """A row of one contract table as an import file gives it."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    table: ClassVar[str]
    key_columns: ClassVar[tuple[str, ...]] = ("id",)
    # column -> the table its value names (None: the table named by another column)
    references: ClassVar[dict[str, str]] = {}

    def key(self) -> tuple[str, ...]:
        # Called for every row a pull or an import validates: read from __dict__, and a
        # one-column key (most tables) without building a generator.
        values, columns = self.__dict__, self.key_columns
        if len(columns) == 1:
            return (values[columns[0]],)
        return tuple([values[column] for column in columns])

    def referenced(self) -> list[tuple[str, str, str]]:
        """(column, table, id) of every record this row names."""
        named = []
        for column, table in self.references.items():
            value = getattr(self, column)
            if value is not None:
                named.append((column, table, value))
        return named


def _not_in_future(value: datetime | None, info: ValidationInfo) -> datetime | None:
    latest = _window(info).completed_until
    if value is not None and latest is not None and value > latest:
        raise out_of_bounds("a time before now")
    return value


# When a CRM record was created: never after the run's now.
CreatedAt = Annotated[Timestamp, AfterValidator(_not_in_future)]


class SystemUserRow(FileRow):
    table: ClassVar[str] = "system_user"

    id: Key
    email: Email
    full_name: Text
    team: OptionalText = None
    disabled: Annotated[
        bool,
        BeforeValidator(lambda value: False if _empty_is_null(value) is None else value),
        Field(description="true or false (empty: false)"),
    ] = False


class AccountRow(FileRow):
    table: ClassVar[str] = "account"
    references: ClassVar[dict[str, str]] = {
        "primary_contact_id": "contact",
        "owner_id": "system_user",
    }

    id: Key
    name: Text
    primary_contact_id: Reference = None
    owner_id: Reference = None
    created_at: CreatedAt = None


class ContactRow(FileRow):
    table: ClassVar[str] = "contact"
    references: ClassVar[dict[str, str]] = {"account_id": "account"}

    id: Key
    full_name: Text
    email: OptionalEmail = None
    email2: OptionalEmail = None
    email3: OptionalEmail = None
    account_id: Reference = None
    created_at: CreatedAt = None


class LeadRow(FileRow):
    table: ClassVar[str] = "lead"
    references: ClassVar[dict[str, str]] = {"owner_id": "system_user"}

    id: Key
    full_name: Text
    email: OptionalEmail = None
    company_name: OptionalText = None
    status: Annotated[str, _one_of(LEAD_STATUS_VALUES), _vocabulary(LEAD_STATUS_VALUES, False)] = (
        "open"
    )
    owner_id: Reference = None
    created_at: CreatedAt = None


class OpportunityRow(FileRow):
    table: ClassVar[str] = "opportunity"
    references: ClassVar[dict[str, str]] = {
        "account_id": "account",
        "owner_id": "system_user",
        "customer_contact_id": "contact",
    }

    id: Key
    name: Text
    account_id: Reference = None
    owner_id: Reference = None
    customer_contact_id: Reference = None
    status: Annotated[
        str, _one_of(OPPORTUNITY_STATUS_VALUES), _vocabulary(OPPORTUNITY_STATUS_VALUES, False)
    ] = "open"
    estimated_revenue: Annotated[
        float | None,
        BeforeValidator(_empty_is_null),
        AfterValidator(_revenue),
        Field(description="a number from 0, or empty"),
    ] = None
    estimated_close_date: Day = None
    actual_close_date: Day = None
    created_at: CreatedAt = None


class StakeholderRow(FileRow):
    table: ClassVar[str] = "opportunity_stakeholder"
    key_columns: ClassVar[tuple[str, ...]] = ("opportunity_id", "contact_id")
    references: ClassVar[dict[str, str]] = {
        "opportunity_id": "opportunity",
        "contact_id": "contact",
    }

    opportunity_id: Key
    contact_id: Key
    role: OptionalText = None


Count = Annotated[
    int,
    BeforeValidator(lambda value: 0 if _empty_is_null(value) is None else value),
    AfterValidator(_engagement),
    Field(description=f"a whole number from 0 to {MAX_ENGAGEMENT}"),
]


class ActivityRow(FileRow):
    """A logged activity; its times are checked against its status and the run's now."""

    table: ClassVar[str] = "crm_activity"
    references: ClassVar[dict[str, str]] = {"owner_id": "system_user"}

    id: Key
    kind: Annotated[str, _one_of(ACTIVITY_KIND_VALUES), _vocabulary(ACTIVITY_KIND_VALUES, False)]
    owner_id: Reference = None
    direction: Annotated[
        str | None,
        BeforeValidator(_empty_is_null),
        _one_of(ACTIVITY_DIRECTION_VALUES),
        _vocabulary(ACTIVITY_DIRECTION_VALUES, True),
    ] = None
    status: Annotated[
        str, _one_of(ACTIVITY_STATUS_VALUES), _vocabulary(ACTIVITY_STATUS_VALUES, False)
    ] = "completed"
    start_at: Timestamp = None
    end_at: Timestamp = None
    regarding_type: Annotated[
        str | None,
        BeforeValidator(_empty_is_null),
        _one_of(REGARDING_TYPE_VALUES),
        _vocabulary(REGARDING_TYPE_VALUES, True),
    ] = None
    regarding_id: Reference = None
    conversation_id: OptionalText = None
    internet_message_id: OptionalText = None
    opens: Count = 0
    clicks: Count = 0
    modified_at: Timestamp = None

    @field_validator("start_at", "end_at")
    @classmethod
    def _when_it_can_be(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        """Done means in the past; planned means within PLANNED_YEARS_AHEAD."""
        window = _window(info)
        if value is None:
            return value
        done = window.completed_until
        if info.data.get("status") == "completed" and done is not None and value > done:
            raise out_of_bounds("a time before now for a completed activity")
        if window.latest is not None and value > window.latest:
            raise out_of_bounds(f"a time at most {PLANNED_YEARS_AHEAD} years from now")
        start = info.data.get("start_at")
        if info.field_name == "end_at" and start is not None and value < start:
            raise out_of_bounds("a time at or after start_at")
        return value

    @field_validator("regarding_id")
    @classmethod
    def _regarding_pair(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "regarding_type" not in info.data:
            return value  # regarding_type itself was refused: that is the problem to report
        if (value is None) != (info.data["regarding_type"] is None):
            raise out_of_bounds("an id exactly when regarding_type is given")
        return value

    def referenced(self) -> list[tuple[str, str, str]]:
        named = super().referenced()
        if self.regarding_type is not None and self.regarding_id is not None:
            named.append(("regarding_id", self.regarding_type, self.regarding_id))
        return named


class PartyRow(FileRow):
    """One party of an activity: an address, a record reference, or both."""

    table: ClassVar[str] = "crm_activity_party"
    key_columns: ClassVar[tuple[str, ...]] = ()

    activity_id: Reference = None  # CSV only: JSON nests parties in their activity
    role: Annotated[str, _one_of(PARTY_ROLE_VALUES), _vocabulary(PARTY_ROLE_VALUES, False)]
    address: OptionalEmail = None
    record_type: Annotated[
        str | None,
        BeforeValidator(_empty_is_null),
        _one_of(PARTY_RECORD_TYPE_VALUES),
        _vocabulary(PARTY_RECORD_TYPE_VALUES, True),
    ] = None
    record_id: Reference = None
    response: Annotated[
        str | None,
        BeforeValidator(_empty_is_null),
        _one_of(PARTY_RESPONSE_VALUES),
        _vocabulary(PARTY_RESPONSE_VALUES, True),
    ] = None

    @field_validator("record_id")
    @classmethod
    def _someone(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "record_type" not in info.data:
            return value  # record_type itself was refused: that is the problem to report
        if (value is None) != (info.data["record_type"] is None):
            raise out_of_bounds("an id exactly when record_type is given")
        if value is None and info.data.get("address") is None:
            raise out_of_bounds("a record_type and record_id, or an address")
        return value

    def referenced(self) -> list[tuple[str, str, str]]:
        if self.record_type is None or self.record_id is None:
            return []
        return [("record_id", self.record_type, self.record_id)]

    def stored(self) -> tuple[str, str | None, str | None, str | None, str | None]:
        """The party as crm_activity_party holds it, for comparing an activity's parties."""
        return (self.role, self.address, self.record_type, self.record_id, self.response)


RECORD_MODELS: tuple[type[FileRow], ...] = (
    SystemUserRow,
    AccountRow,
    ContactRow,
    LeadRow,
    OpportunityRow,
    StakeholderRow,
)
ALL_MODELS: tuple[type[FileRow], ...] = (*RECORD_MODELS, ActivityRow, PartyRow)
MODELS: dict[str, type[FileRow]] = {model.table: model for model in ALL_MODELS}
TABLE_ORDER = tuple(MODELS)  # the order a file's tables are written in: referenced first


def allowed_for(model: type[FileRow], column: str) -> str:
    """What `column` allows, as its field describes it."""
    field = model.model_fields.get(column)
    if field is None:
        return f"a column of {model.table}: {', '.join(model.model_fields)}"
    return field.description or "a value of the documented type"


def refused(model: type[FileRow], item: ErrorDetails) -> tuple[str, str]:
    """(column, what it allows) of one value pydantic refused for `model`."""
    column = str(item["loc"][0]) if item["loc"] else "(row)"
    if item["type"] == BOUND:
        return column, item["msg"]
    if item["type"] == "missing":
        return column, f"a value: {allowed_for(model, column)}"
    return column, allowed_for(model, column)


def write_columns(model: type[FileRow]) -> tuple[str, ...]:
    """The table's columns an import writes (never Rapport's health_* columns)."""
    return tuple(column for column in model.model_fields if column != "activity_id")
