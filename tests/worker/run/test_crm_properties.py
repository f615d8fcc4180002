"""A net for what nobody tried yet (issue 15, item 12): generated CRM rows, a real run.

Hypothesis writes CRM rows (valid, on a bound, garbage a CRM can really
write on that database) into a real store that already holds a scored book,
corrupts some of that book's rows too, and runs the pipeline. Whatever it
draws, the run completes; every activity is either stored or reported (or
legitimately not an interaction); nothing stored is outside the contract's
bounds; every problem names a real table, row and column; what was stored
for a corrupted row stays. A smaller property feeds the CLI random arguments.

CI runs few, derandomized examples (the `crm-ci` profile, under a minute) and
reports a failing one as drawn, without shrinking it (shrinking reruns whole runs
for minutes, past the per-test timeout, which does not stop it); for a longer hunt,
which shrinks a failure to its smallest rows:
`RAPPORT_HYPOTHESIS_PROFILE=crm-long .venv/bin/pytest tests/worker/run/test_crm_properties.py`
(docs/crm-contract.md).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from storage import crm_problems
from storage.crm_activity_rules import (
    CLOCK_SKEW,
    EARLIEST,
    MAX_DURATION_MINUTES,
    MAX_ENGAGEMENT,
    TimeWindow,
)
from storage.crm_tables import (
    ACTIVITY_DIRECTION_VALUES,
    ACTIVITY_KIND_VALUES,
    ACTIVITY_STATUS_VALUES,
    LEAD_STATUS_VALUES,
    PARTY_RECORD_TYPE_VALUES,
    PARTY_RESPONSE_VALUES,
    PARTY_ROLE_VALUES,
    REGARDING_TYPE_VALUES,
)
from tests import factories as f
from tests.worker.cli_runner import run_cli
from worker.run.tick import run_once

pytestmark = pytest.mark.slow  # many whole runs

_COMMON = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "crm-ci",
    _COMMON,
    max_examples=8,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
)
settings.register_profile("crm-long", _COMMON, max_examples=400)
PROFILE = os.environ.get("RAPPORT_HYPOTHESIS_PROFILE", "crm-ci")
crm_settings = settings.get_profile(PROFILE)
# The CI profile stays inside the suite's per-test timeout; a long hunt takes what it takes.
within_time = pytest.mark.timeout(0 if PROFILE != "crm-ci" else 120)

NOW = f.NOW
RETENTION_DAYS = 730
NOT_BEFORE = NOW - timedelta(days=RETENTION_DAYS)
WINDOW = TimeWindow.around(NOW)
CRM_TABLES = {
    "crm_activity",
    "crm_activity_party",
    "contact",
    "lead",
    "opportunity",
    "account",
    "system_user",
    "opportunity_stakeholder",
}
BOOK = ("base-1", "base-2", "base-3", "base-4")  # the scored book's activities

# --- what a CRM can write ---------------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12)


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


VALID_TIMES = st.datetimes(
    min_value=_naive(NOW - timedelta(days=700)), max_value=_naive(NOW), timezones=st.just(UTC)
)
ON_A_BOUND = st.sampled_from(
    [
        EARLIEST,
        EARLIEST - timedelta(seconds=1),
        datetime(1, 1, 1, tzinfo=UTC),
        NOW + CLOCK_SKEW,
        NOW + CLOCK_SKEW + timedelta(seconds=1),
        WINDOW.latest,
        WINDOW.latest + timedelta(seconds=1),  # type: ignore[operator]
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        NOT_BEFORE,
    ]
)
WITH_AN_OFFSET = VALID_TIMES.map(
    lambda moment: moment.astimezone(timezone(timedelta(hours=5))).isoformat()
)
UNREADABLE_TIMES = {
    "sqlite": st.one_of(
        TEXT,
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(["2026-02-30 10:00:00", "infinity", "20000-01-01 00:00:00"]),
    ),
    "postgresql": st.sampled_from(
        ["infinity", "-infinity", "20000-01-01 00:00:00+00", "0044-03-15 00:00:00+00 BC"]
    ),
}
INTEGER_RANGE = {"sqlite": (-(2**63), 2**63 - 1), "postgresql": (-(2**31), 2**31 - 1)}


def times(dialect: str) -> st.SearchStrategy[Any]:
    return st.one_of(VALID_TIMES, ON_A_BOUND, WITH_AN_OFFSET, UNREADABLE_TIMES[dialect], st.none())


def words(allowed: tuple[str, ...], *, nullable: bool) -> st.SearchStrategy[Any]:
    near_misses = st.sampled_from([allowed[0].upper(), f" {allowed[0]}", "", "maybe"])
    drawn = st.one_of(st.sampled_from(allowed), near_misses, TEXT)
    return st.one_of(drawn, st.none()) if nullable else drawn


def counts(dialect: str) -> st.SearchStrategy[Any]:
    low, high = INTEGER_RANGE[dialect]
    numbers = st.one_of(
        st.integers(0, 20),
        st.sampled_from([-1, MAX_ENGAGEMENT, MAX_ENGAGEMENT + 1]),
        st.integers(low, high),
    )
    if dialect == "sqlite":  # SQLite keeps text in an integer column
        return st.one_of(numbers, TEXT.filter(lambda text: not text.strip().lstrip("-").isdigit()))
    return numbers


def parties(dialect: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    addresses = st.sampled_from(
        ["ana@ours.example", " DANA@contoso.example", "stranger@nowhere.example", None]
    )
    party = st.fixed_dictionaries(
        {
            "role": words(PARTY_ROLE_VALUES, nullable=False),
            "address": st.one_of(addresses, TEXT),
            "record_type": words(PARTY_RECORD_TYPE_VALUES, nullable=True),
            "record_id": st.sampled_from(["c1", "u1", "l1", "c-missing", None]),
            "response": words(PARTY_RESPONSE_VALUES, nullable=True),
        }
    )
    return st.lists(party, max_size=3)


def activities(dialect: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "kind": words(ACTIVITY_KIND_VALUES, nullable=False),
            "owner_id": st.sampled_from(["u1", "u-missing", None]),
            "direction": words(ACTIVITY_DIRECTION_VALUES, nullable=True),
            "status": words(ACTIVITY_STATUS_VALUES, nullable=False),
            "start_at": times(dialect),
            "end_at": times(dialect),
            "regarding_type": words(REGARDING_TYPE_VALUES, nullable=True),
            "regarding_id": st.sampled_from(["c1", "a1", None]),
            "conversation_id": st.one_of(st.none(), TEXT),
            "opens": counts(dialect),
            "clicks": counts(dialect),
            "modified_at": times(dialect),
            "parties": parties(dialect),
        }
    )


def contacts(dialect: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"created_at": times(dialect)})


def leads(dialect: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "status": words(LEAD_STATUS_VALUES, nullable=False),
            "created_at": times(dialect),
        }
    )


def corruptions(dialect: str) -> st.SearchStrategy[dict[str, tuple[str, Any]]]:
    """Values that make a stored activity's row one the run must skip."""
    breaking = st.one_of(
        st.tuples(st.just("start_at"), UNREADABLE_TIMES[dialect]),
        st.tuples(st.just("kind"), st.sampled_from(["fax", "EMAIL", ""])),
        st.tuples(st.just("status"), st.sampled_from(["done", "maybe"])),
    )
    return st.dictionaries(st.sampled_from(BOOK), breaking, max_size=2)


@dataclass
class Drawn:
    activities: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    leads: list[dict[str, Any]]
    corruptions: dict[str, tuple[str, Any]]
    ids: dict[str, list[str]] = field(default_factory=dict)


@st.composite
def crm_rows(draw: st.DrawFn, dialect: str) -> Drawn:
    return Drawn(
        activities=draw(st.lists(activities(dialect), max_size=6)),
        contacts=draw(st.lists(contacts(dialect), max_size=3)),
        leads=draw(st.lists(leads(dialect), max_size=2)),
        corruptions=draw(corruptions(dialect)),
    )


# --- the store ----------------------------------------------------------------------


def _reset(engine: Engine) -> None:
    tables = [t for t in sa.inspect(engine).get_table_names() if t != "alembic_version"]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(sa.text(f"DELETE FROM {table}"))


def _scored_book(engine: Engine) -> None:
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.account(engine, "a1", "Contoso", primary="c1")
    f.contact(engine, "c1", "dana@contoso.example", "Dana Ruiz", "a1")
    f.lead(engine, "l1", "kim@prospect.example", "Kim Lead", "u1")
    for number, activity_id in enumerate(BOOK):
        f.email(
            engine,
            sender="ana@ours.example",
            to=["dana@contoso.example"],
            at=f.days_ago(3 + 7 * number),
            activity_id=activity_id,
        )
    run_once(engine, now=NOW, retention_days=RETENTION_DAYS)


def _bindable(engine: Engine, value: Any) -> Any:
    """SQLite's driver no longer adapts datetimes itself: write them as ISO text."""
    if engine.dialect.name == "sqlite" and isinstance(value, datetime):
        return value.isoformat()
    return value


def _insert(engine: Engine, table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(row)
    marks = ", ".join(f":{column}" for column in row)
    values = {column: _bindable(engine, value) for column, value in row.items()}
    with engine.begin() as connection:
        connection.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({marks})"), values)


def _write(engine: Engine, drawn: Drawn) -> None:
    for number, activity in enumerate(drawn.activities):
        activity_id = f"gen-{number}"
        drawn.ids.setdefault("crm_activity", []).append(activity_id)
        row = {key: value for key, value in activity.items() if key != "parties"}
        _insert(engine, "crm_activity", {"id": activity_id, **row})
        # Every activity has a customer, so only a problem may keep it from being stored.
        for party in [
            {
                "role": "to",
                "address": "dana@contoso.example",
                "record_type": None,
                "record_id": None,
                "response": None,
            },
            *activity["parties"],
        ]:
            _insert(engine, "crm_activity_party", {"activity_id": activity_id, **party})
    for number, contact in enumerate(drawn.contacts):
        contact_id = f"gen-c{number}"
        drawn.ids.setdefault("contact", []).append(contact_id)
        _insert(
            engine,
            "contact",
            {
                "id": contact_id,
                "full_name": f"Person {number}",
                "email": f"p{number}@customer.example",
                **contact,
            },
        )
    for number, lead in enumerate(drawn.leads):
        lead_id = f"gen-l{number}"
        drawn.ids.setdefault("lead", []).append(lead_id)
        _insert(engine, "lead", {"id": lead_id, "full_name": f"Lead {number}", **lead})
    for activity_id, (column, value) in drawn.corruptions.items():
        with engine.begin() as connection:
            connection.execute(
                sa.text(f"UPDATE crm_activity SET {column} = :value WHERE id = :id"),
                {"value": _bindable(engine, value), "id": activity_id},
            )


# --- the oracle: only what the contract states ------------------------------------


def _as_time(value: Any) -> datetime | None | str:
    """A written timestamp as the contract reads it; 'unreadable' if it is none.

    Text that reads as a number is one to SQLite, which stores it as a number.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or _numeric(value):
        return "unreadable"
    try:
        moment = datetime.fromisoformat(value)
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return "unreadable"


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _stored(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM interaction")).mappings().all()
    return {row["key"]: dict(row) for row in rows}


def _as_utc(value: Any) -> datetime:
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


LINE = re.compile(r"^(\w+) '([^']*)': (\w+) ")  # table 'row id': column ...


def _reported(lines: list[str]) -> dict[str, set[str]]:
    """Row id (an activity's, for a party) -> the 'table.column's reported for it."""
    reported: dict[str, set[str]] = {}
    for line in lines:
        assert "\n" not in line
        found = LINE.match(line)
        assert found, line
        table, row_id, column = found.groups()
        assert table in CRM_TABLES, line
        row_id = row_id.split(" (activity ")[-1].rstrip(")")
        reported.setdefault(row_id, set()).add(f"{table}.{column}")
    return reported


def _check_stored(stored: dict[str, dict[str, Any]]) -> None:
    """Nothing outside the contract's bounds is stored."""
    for key, row in stored.items():
        if row["source"] != "crm":
            continue
        assert 0 <= row["duration_minutes"] <= MAX_DURATION_MINUTES, key
        assert 0 <= row["opens"] <= MAX_ENGAGEMENT and 0 <= row["clicks"] <= MAX_ENGAGEMENT, key
        occurred_at = _as_utc(row["occurred_at"])
        assert EARLIEST <= occurred_at <= WINDOW.latest, key  # type: ignore[operator]
        if not row["planned"]:
            assert occurred_at <= WINDOW.completed_until, key  # type: ignore[operator]


def _check_accounted(drawn: Drawn, stored: set[str], reported: dict[str, set[str]]) -> None:
    """Every drawn row is stored, reported, or one the contract leaves out on purpose."""
    for activity_id, activity in zip(
        drawn.ids.get("crm_activity", []), drawn.activities, strict=True
    ):
        if f"crm:{activity_id}" in stored or activity_id in reported:
            continue
        # Neither stored nor reported: only a cancelled activity, or one beyond retention.
        when = _as_time(activity["start_at"]) or _as_time(activity["end_at"])
        assert activity["status"] == "cancelled" or (
            isinstance(when, datetime) and when < NOT_BEFORE
        ), (activity_id, activity)
    for contact_id, contact in zip(drawn.ids.get("contact", []), drawn.contacts, strict=True):
        created_at = _as_time(contact["created_at"])
        refused = created_at == "unreadable" or (
            isinstance(created_at, datetime)
            and not EARLIEST <= created_at <= WINDOW.completed_until  # type: ignore[operator]
        )
        assert refused == ("contact.created_at" in reported.get(contact_id, set())), contact
    for lead_id, lead in zip(drawn.ids.get("lead", []), drawn.leads, strict=True):
        if lead["status"] not in LEAD_STATUS_VALUES:
            assert "lead.status" in reported.get(lead_id, set()), lead
    for activity_id, (column, _value) in drawn.corruptions.items():
        assert f"crm:{activity_id}" in stored  # what was stored for a skipped row stays
        assert f"crm_activity.{column}" in reported.get(activity_id, set())


@within_time
@crm_settings
@given(data=st.data())
def test_any_crm_rows_leave_a_complete_run_and_an_honest_report(
    engine: Engine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data: st.DataObject,
) -> None:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    # Every record scored on every run: a run with nothing new scores nothing otherwise.
    monkeypatch.setenv("RAPPORT_REGRADE_EVERY", "0")
    # Every problem in full, so that each drawn row can be looked for in the report.
    monkeypatch.setattr(crm_problems, "EXAMPLES_KEPT", 10_000)
    drawn = data.draw(crm_rows(engine.dialect.name))
    _reset(engine)
    _scored_book(engine)
    _write(engine, drawn)

    ran = run_cli(capsys, "run", "--once", "--now", NOW.isoformat(), "--json")

    assert ran.code == 0, ran.err
    assert "Traceback" not in ran.err
    summary = json.loads(ran.out)
    problems = summary["crm_row_problems"]
    assert problems["count"] == sum(problems["by_column"].values())
    assert len(summary["skipped_crm_rows"]) == problems["count"]
    assert summary["records_scored"] >= 2  # the book's contact and account at least
    stored = _stored(engine)
    _check_stored(stored)
    _check_accounted(drawn, set(stored), _reported(summary["skipped_crm_rows"]))


# --- the CLI ------------------------------------------------------------------------

WORDS = [
    "run",
    "--once",
    "--now",
    "--json",
    "status",
    "settings",
    "show",
    "set",
    "health",
    "db",
    "current",
    "audit",
    "list",
    "mailboxes",
    "introducers",
    "retention",
    "purge",
    "--interaction-days",
    "grading.fair_min",
    "influence.email",
    "contact:c1",
    "-5",
    "0",
    "10**30",
    "1000000000000000000000000000000",
    "9999-12-31",
    "0001-01-01",
    "--help",
    "",
]
ARGUMENTS = st.lists(st.one_of(st.sampled_from(WORDS), TEXT), min_size=1, max_size=5)


@within_time
@crm_settings
@given(data=st.data())
def test_any_arguments_exit_with_a_documented_code_and_no_traceback(
    engine: Engine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data: st.DataObject,
) -> None:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    arguments = data.draw(ARGUMENTS)
    if arguments[0] in ("worker", "emulator", "demo", "export", "erase", "crm"):
        return  # long-running, or writing files: not this property's business

    ran = run_cli(capsys, *arguments)

    assert ran.code in (0, 2, 4), (arguments, ran.err)
    assert "Traceback" not in ran.out + ran.err, arguments
