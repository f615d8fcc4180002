"""Read the CRM records that get a health score, as plain rows.

The CRM writes these tables itself: a record whose `created_at` cannot be
read is skipped for the run (it keeps the health it had), one outside the
contract's bounds is read as unknown, and a lead or opportunity whose status
is none of the contract's words is not scored; each is reported by column
(storage.crm_problems, docs/crm-contract.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlmodel import Session

from storage.crm_activity_rules import EARLIEST, TimeWindow
from storage.crm_problems import RowProblem, RowProblems
from storage.crm_tables import LEAD_STATUS_VALUES, OPPORTUNITY_STATUS_VALUES, Contact
from storage.engine import is_sqlite
from storage.heap import free_pages_returned
from storage.interaction_store import PARTY_COLUMNS, ROW_COLUMNS
from storage.packed_parties import FIELD_SEPARATOR as FIELD_SEPARATOR
from storage.packed_parties import PACKED_COLUMNS
from storage.packed_parties import PARTY_SEPARATOR as PARTY_SEPARATOR
from storage.raw_rows import Unreadable, named_rows, raw_rows, sqlite_time
from storage.suppression import erased_records, load_suppression
from storage.types import core_table

CONTACTS = core_table(Contact)  # for tests that write the CRM as a CRM would


class UserRow(NamedTuple):
    id: str
    full_name: str
    team: str | None
    disabled: bool


class AccountRow(NamedTuple):
    id: str
    name: str
    primary_contact_id: str | None
    created_at: datetime | None


class ContactRow(NamedTuple):
    id: str
    full_name: str
    account_id: str | None
    created_at: datetime | None


class LeadRow(NamedTuple):
    id: str
    full_name: str
    owner_id: str | None
    created_at: datetime | None


class OpportunityRow(NamedTuple):
    id: str
    name: str
    account_id: str | None
    owner_id: str | None
    customer_contact_id: str | None
    created_at: datetime | None


class StakeholderRow(NamedTuple):
    opportunity_id: str
    contact_id: str
    role: str | None  # free text; scoring.rollup maps it onto its vocabulary


@dataclass(frozen=True, slots=True)
class CrmSnapshot:
    """Everything scoring needs to know about the CRM, read in one transaction."""

    users: list[Any]  # UserRow
    accounts: list[Any]  # AccountRow
    contacts: list[Any]  # ContactRow
    open_leads: list[Any]  # LeadRow
    open_opportunities: list[Any]  # OpportunityRow
    stakeholders: list[Any]  # StakeholderRow


# The record types scored, by table, and the statuses of the two that close.
STATUSES = {"lead": LEAD_STATUS_VALUES, "opportunity": OPPORTUNITY_STATUS_VALUES}


class _Reader:
    """Reads record tables for one snapshot, collecting what breaks the contract."""

    def __init__(self, session: Session, window: TimeWindow) -> None:
        self.session = session
        self.window = window
        self.problems: list[RowProblem] = []

    def records(self, row_type: type[Any], table: str, where: str = "") -> list[Any]:
        """Every row by id; one whose created_at cannot be read is skipped, one outside
        the bounds has it read as unknown."""
        unreadable: list[Unreadable] = []
        rows = named_rows(
            self.session,
            row_type,
            table,
            times=("created_at",),
            unreadable=unreadable,
            where=where,
        )
        latest = self.window.completed_until
        kept = []
        for row in rows:
            created_at = row.created_at
            if created_at is not None and (
                created_at < EARLIEST or (latest is not None and created_at > latest)
            ):
                self._note(table, row.id, "created_at", created_at, "read as unknown")
                row = row._replace(created_at=None)
            kept.append(row)
        for skipped, _columns in unreadable:
            self.problems.append(
                RowProblem(
                    table,
                    skipped.id,
                    "created_at",
                    skipped.created_at,
                    "a timestamp",
                    "record skipped: keeps the health it had",
                )
            )
        return kept

    def _note(self, table: str, row_id: str, column: str, value: Any, handling: str) -> None:
        allowed = f"a time from {EARLIEST.date()} up to the run's now"
        self.problems.append(RowProblem(table, row_id, column, value, allowed, handling))

    def statuses(self, table: str) -> None:
        """A status outside the vocabulary: the record is not scored, like a closed one."""
        allowed = STATUSES[table]
        words = ", ".join(f"'{word}'" for word in allowed)
        query = f"SELECT id, status FROM {table} WHERE status NOT IN ({words}) ORDER BY id"
        for record_id, status in raw_rows(self.session, query):
            self.problems.append(
                RowProblem(
                    table,
                    record_id,
                    "status",
                    status,
                    f"one of {', '.join(allowed)}",
                    "not scored: keeps the health it had",
                )
            )

    def plain(self, row_type: type[Any], table: str, order: str) -> list[Any]:
        query = f"SELECT {', '.join(row_type._fields)} FROM {table} ORDER BY {order}"
        new = tuple.__new__
        return [new(row_type, row) for row in raw_rows(self.session, query)]


def load_crm_snapshot(
    *, session: Session, now: datetime | None = None, problems: RowProblems | None = None
) -> CrmSnapshot:
    """Each list in primary-key order, whatever order the database keeps its rows in.

    Everything downstream follows this order (scopes, the split into scoring
    shares, the write-back's batches), so a run over an unchanged CRM does
    the same work in the same order every time; without it an update that
    moved rows on disk would reshuffle the next run. `now`: the run's now, for
    the bound on `created_at` (none after it without one). The records skipped
    or read in part go to `problems`.
    """
    reader = _Reader(session, TimeWindow.around(now))
    users = reader.plain(UserRow, "system_user", "id")
    accounts = reader.records(AccountRow, "account")
    snapshot = CrmSnapshot(
        users=[user._replace(disabled=bool(user.disabled)) for user in users],
        accounts=accounts,
        contacts=_account_ids_shared(reader.records(ContactRow, "contact"), accounts),
        open_leads=reader.records(LeadRow, "lead", where="status = 'open'"),
        open_opportunities=reader.records(OpportunityRow, "opportunity", where="status = 'open'"),
        stakeholders=reader.plain(
            StakeholderRow, "opportunity_stakeholder", "opportunity_id, contact_id"
        ),
    )
    reader.statuses("lead")
    reader.statuses("opportunity")
    # Erased subjects (storage.suppression) get no KPIs, history or health, even while
    # the CRM still holds them; nor are they named in the run's report.
    snapshot = without_erased(snapshot, session=session)
    if problems is not None:
        for problem in _without_erased_problems(session, reader.problems):
            problems.add(problem)
    # libpq held each table's whole result: its pages, free now, go back (storage.heap).
    free_pages_returned()
    return snapshot


def _account_ids_shared(contacts: list[Any], accounts: list[Any]) -> list[Any]:
    """The contacts, each one's account id the very string of its account's row: the
    driver makes a string per field, and the snapshot is held for the whole run
    (about 25 MiB at 440k contacts)."""
    ids = {account.id: account.id for account in accounts}
    new, at = tuple.__new__, _CONTACT_ACCOUNT_ID
    return [
        contact
        if (shared := ids.get(contact.account_id)) is None
        else new(ContactRow, (*contact[:at], shared, *contact[at + 1 :]))
        for contact in contacts
    ]


# Where a ContactRow holds its account id (the row is rebuilt around it, whatever its fields).
_CONTACT_ACCOUNT_ID = ContactRow._fields.index("account_id")


# CrmSnapshot lists of records, by the record type of their rows' `id`.
SNAPSHOT_RECORDS = {
    "users": "system_user",
    "accounts": "account",
    "contacts": "contact",
    "open_leads": "lead",
    "open_opportunities": "opportunity",
}


def without_erased(snapshot: CrmSnapshot, *, session: Session) -> CrmSnapshot:
    """The snapshot scoring reads, minus erased records: they get no KPIs, history or health."""
    erased = erased_records(session=session, suppression=load_suppression(session=session))
    if not erased:
        return snapshot
    kept: dict[str, list[object]] = {
        name: [row for row in getattr(snapshot, name) if (record_type, row.id) not in erased]
        for name, record_type in SNAPSHOT_RECORDS.items()
    }
    kept["stakeholders"] = [
        row
        for row in snapshot.stakeholders
        if ("contact", row.contact_id) not in erased
        and ("opportunity", row.opportunity_id) not in erased
    ]
    return replace(snapshot, **kept)


def _without_erased_problems(session: Session, problems: list[RowProblem]) -> list[RowProblem]:
    if not problems:
        return problems
    erased = erased_records(session=session, suppression=load_suppression(session=session))
    return [problem for problem in problems if (problem.table, problem.row_id) not in erased]


# What scoring reads of an interaction: the stored row less its provenance.
INTERACTION_COLUMNS = tuple(c for c in ROW_COLUMNS if c not in ("source", "crm_activity_id"))
# Parties travel packed into one text column of the interaction row
# (storage.packed_parties); FIELD_SEPARATOR and PARTY_SEPARATOR are imported
# here for the readers of iter_interactions_with_parties.


def _interaction_times(
    session: Session, rows: Iterator[tuple[Any, ...]]
) -> Iterator[tuple[Any, ...]]:
    if not is_sqlite(session):
        return rows  # psycopg returns timezone-aware datetimes already
    return ((*row[:3], sqlite_time(row[3]), *row[4:]) for row in rows)


def iter_interaction_rows(*, session: Session) -> Iterator[tuple[Any, ...]]:
    """Interactions as tuples in INTERACTION_COLUMNS order, streamed."""
    query = f"SELECT {', '.join(INTERACTION_COLUMNS)} FROM interaction"
    return _interaction_times(session, raw_rows(session, query))


def iter_interactions_with_parties(*, session: Session) -> Iterator[tuple[Any, ...]]:
    """Interactions in INTERACTION_COLUMNS order, then packed parties (or None) and their count.

    One plain read of `interaction`: its rows carry a copy of their party rows
    (storage.packed_parties), so nothing is joined or grouped.
    """
    columns = ", ".join((*INTERACTION_COLUMNS, *PACKED_COLUMNS))
    return _interaction_times(session, raw_rows(session, f"SELECT {columns} FROM interaction"))


def iter_party_rows(
    *, session: Session, interaction_key: str | None = None
) -> Iterator[tuple[Any, ...]]:
    """Interaction parties as tuples in PARTY_COLUMNS order; all, or one interaction's."""
    query = f"SELECT {', '.join(PARTY_COLUMNS)} FROM interaction_party"
    if interaction_key is None:
        return raw_rows(session, query)
    marker = "?" if is_sqlite(session) else "%s"
    return raw_rows(session, f"{query} WHERE interaction_key = {marker}", (interaction_key,))
