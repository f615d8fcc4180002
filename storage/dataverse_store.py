"""Repository of the Dataverse connector's own tables (storage.dataverse_tables), and
the deletes a pull applies to the contract tables.

Every function takes the caller's session: a pull writes a page's rows, its deletes,
the id maps and the cursor in one transaction (committed together or not at all).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storage.bulk import insert_rows
from storage.crm_contract import CRM_TABLES
from storage.dataverse_tables import (
    DataverseCursor,
    DataverseParty,
    DataversePush,
    DataverseStakeholder,
)
from storage.engine import is_postgres
from storage.interaction_store import chunks, text_array
from storage.types import UTCDateTime, core_table

CURSORS = core_table(DataverseCursor)
PARTY_MAP = core_table(DataverseParty)
STAKEHOLDER_MAP = core_table(DataverseStakeholder)
PUSHES = core_table(DataversePush)
CONTRACT = {
    name: CRM_TABLES[name]
    for name in ("system_user", "account", "contact", "lead", "opportunity", "crm_activity")
}
STAKEHOLDERS = CRM_TABLES["opportunity_stakeholder"]
PARTIES = CRM_TABLES["crm_activity_party"]
TIME_TYPES = (UTCDateTime, sa.DateTime)
PARTY_COLUMNS = ("role", "address", "record_type", "record_id")
MAPPED_PARTY = ("party_id", "activity_id", *PARTY_COLUMNS)


# --- set-based statements -------------------------------------------------------------


def id_set(session: Session, ids: Collection[str]) -> sa.Select[tuple[str]]:
    """`ids` as a one-column subquery bound as ONE parameter, however many there are
    (an array on PostgreSQL, a JSON array read by json_each on SQLite): a page of
    thousands of ids is one statement, not one per IN (...) list of 500."""
    if is_postgres(session):
        array = sa.cast(sa.literal(text_array(ids), sa.Text()), postgresql.ARRAY(sa.String()))
        values = sa.func.unnest(array).table_valued("value").render_derived(name="ids")
    else:
        values = sa.func.json_each(sa.literal(json.dumps(list(ids)), sa.Text())).table_valued(
            "value"
        )
    return sa.select(values.c.value)


def _sqlite_time(value: Any) -> Any:
    """An aware datetime, as msgspec writes it in JSON (ISO 8601, six fraction digits when
    any, a zone), turned by SQLite into the text SQLAlchemy stores (UTC, no zone, always
    six fraction digits: `2025-01-31 09:30:00.000000`), so that it sorts and compares as
    the values written through SQLAlchemy do. SQLite's date functions move a +hh:mm zone to
    UTC; the fraction is kept from the text (they would round it to milliseconds)."""
    return sa.func.strftime("%Y-%m-%d %H:%M:%S", value).concat(
        sa.case(
            (sa.func.substr(value, 20, 1) == ".", sa.func.substr(value, 20, 7)),
            else_=".000000",
        )
    )


def page_rows(
    session: Session, table: sa.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> sa.Select[Any]:
    """`rows` (values in `columns` order: text, numbers, booleans, aware datetimes, dates
    or None) as a subquery with those columns, typed as in `table`, bound as ONE JSON
    parameter: a page of 5,000 rows is one statement that the database runs on its own
    (SQLite without holding the GIL, PostgreSQL in the server), with no per-row parameter
    handling in Python (msgspec writes the JSON in C)."""
    if is_postgres(session):
        payload = msgspec.json.encode(rows).decode()
        array = sa.cast(sa.literal(payload, sa.Text()), postgresql.JSONB())
        values = sa.func.jsonb_array_elements(array).table_valued("value").render_derived("page")
        element = values.c.value
        return sa.select(
            *(
                sa.cast(element.op("->>")(i), table.c[column].type).label(column)
                for i, column in enumerate(columns)
            )
        )
    payload = msgspec.json.encode(rows).decode()
    each = sa.func.json_each(sa.literal(payload, sa.Text())).table_valued("value")
    selected = []
    for i, column in enumerate(columns):
        value = sa.func.json_extract(each.c.value, f"$[{i}]")
        timed = isinstance(table.c[column].type, TIME_TYPES)
        selected.append((_sqlite_time(value) if timed else value).label(column))
    return sa.select(*selected)


def insert_page(
    session: Session, table: sa.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> int:
    """Insert rows (values in `columns` order: text, numbers, booleans, datetimes, dates
    or None) in one statement (page_rows). Columns left out take their server default."""
    if not rows:
        return 0
    session.execute(sa.insert(table).from_select(columns, page_rows(session, table, columns, rows)))
    return len(rows)


# --- cursors ---------------------------------------------------------------------------


def load_cursor(*, session: Session, entity_set: str) -> DataverseCursor | None:
    return session.get(DataverseCursor, entity_set)


def save_cursor(
    *,
    session: Session,
    entity_set: str,
    next_link: str | None,
    delta_link: str | None,
    at: datetime,
    baseline_at: datetime | None = None,
) -> None:
    """Move the table's cursor on; `delta_link` None keeps the stored one (mid-round)."""
    cursor = session.get(DataverseCursor, entity_set) or DataverseCursor(entity_set=entity_set)
    cursor.next_link = next_link
    if delta_link is not None:
        cursor.delta_link = delta_link
    if baseline_at is not None:
        cursor.baseline_at = baseline_at
    cursor.synced_at = at
    session.add(cursor)
    session.flush()


def forget_cursor(*, session: Session, entity_set: str) -> None:
    """The next round of this table is a full read (an expired delta link)."""
    session.execute(sa.delete(CURSORS).where(CURSORS.c.entity_set == entity_set))


# --- contract deletes ------------------------------------------------------------------


def delete_records(*, session: Session, table: str, ids: Sequence[str]) -> int:
    """Records Dataverse deleted; an activity takes its parties and their id map along."""
    if not ids:
        return 0
    contract = CONTRACT[table]
    gone = id_set(session, sorted(set(ids)))
    if table == "crm_activity":
        session.execute(sa.delete(PARTIES).where(PARTIES.c.activity_id.in_(gone)))
        session.execute(sa.delete(PARTY_MAP).where(PARTY_MAP.c.activity_id.in_(gone)))
    result = session.execute(sa.delete(contract).where(contract.c.id.in_(gone)))
    return int(result.rowcount)  # type: ignore[attr-defined]


def holds_none(*, session: Session, table: str, kind: str | None = None) -> bool:
    """Whether the contract table (of activities: of this kind) holds no row."""
    contract = CONTRACT[table]
    query = sa.select(contract.c.id).limit(1)
    if kind is not None:
        query = query.where(contract.c.kind == kind)
    return session.execute(query).first() is None


# --- stakeholders (connections) ---------------------------------------------------------


def stakeholder_pairs(*, session: Session, connection_ids: Sequence[str]) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for batch in chunks(connection_ids):
        query = sa.select(STAKEHOLDER_MAP.c.opportunity_id, STAKEHOLDER_MAP.c.contact_id).where(
            STAKEHOLDER_MAP.c.connection_id.in_(batch)
        )
        pairs.update((str(a), str(b)) for a, b in session.execute(query))
    return pairs


def replace_stakeholders(
    *, session: Session, removed: Sequence[str], kept: Sequence[tuple[str, str, str, str | None]]
) -> None:
    """Connections gone or no longer stakeholders (`removed`, and every `kept` one is
    rewritten): the map follows, and so does opportunity_stakeholder, pair by pair."""
    touched = list(removed) + [row[0] for row in kept]
    before = stakeholder_pairs(session=session, connection_ids=touched)
    for batch in chunks(touched):
        session.execute(
            sa.delete(STAKEHOLDER_MAP).where(STAKEHOLDER_MAP.c.connection_id.in_(batch))
        )
    insert_rows(
        session, STAKEHOLDER_MAP, ("connection_id", "opportunity_id", "contact_id", "role"), kept
    )
    _sync_pairs(session, sorted(before | {(row[1], row[2]) for row in kept}))


def _sync_pairs(session: Session, pairs: Sequence[tuple[str, str]]) -> None:
    """opportunity_stakeholder holds exactly the pairs some mapped connection holds (a
    reciprocal connection may still hold a pair whose other connection went)."""
    for batch in chunks(pairs):
        in_batch = sa.tuple_(STAKEHOLDERS.c.opportunity_id, STAKEHOLDERS.c.contact_id).in_(batch)
        session.execute(sa.delete(STAKEHOLDERS).where(in_batch))
        mapped = sa.tuple_(STAKEHOLDER_MAP.c.opportunity_id, STAKEHOLDER_MAP.c.contact_id)
        query = (
            sa.select(
                STAKEHOLDER_MAP.c.opportunity_id,
                STAKEHOLDER_MAP.c.contact_id,
                sa.func.min(STAKEHOLDER_MAP.c.role),
            )
            .where(mapped.in_(batch))
            .group_by(STAKEHOLDER_MAP.c.opportunity_id, STAKEHOLDER_MAP.c.contact_id)
        )
        rows = [tuple(row) for row in session.execute(query)]
        insert_rows(session, STAKEHOLDERS, ("opportunity_id", "contact_id", "role"), rows)


# --- activity parties ------------------------------------------------------------------


def write_party_page(
    *, session: Session, named: Sequence[str], kept: Sequence[tuple[str | None, ...]]
) -> None:
    """A page of parties: every party it names (`named`: updated, deleted or no longer
    kept) leaves the map, then the `kept` rows (party_id, activity_id, role, address,
    record_type, record_id) go in, and crm_activity_party follows.

    When the map held none of the named parties (a first pull, new parties), each
    activity's parties just gain the kept ones: they are appended. Otherwise the
    parties of every activity concerned, before or after, are rebuilt from the map."""
    ids = id_set(session, named)
    before = set(
        session.scalars(
            sa.select(PARTY_MAP.c.activity_id).where(PARTY_MAP.c.party_id.in_(ids)).distinct()
        )
    )
    if before:
        session.execute(sa.delete(PARTY_MAP).where(PARTY_MAP.c.party_id.in_(ids)))
    insert_page(session, PARTY_MAP, MAPPED_PARTY, kept)
    if before:
        rebuild_parties(session=session, activity_ids=before | {str(row[1]) for row in kept})
        return
    if not kept:
        return
    # The kept parties of activities the contract holds, joined in the database.
    page = page_rows(session, PARTY_MAP, MAPPED_PARTY, kept).subquery("page")
    activities = CONTRACT["crm_activity"]
    appended = sa.select(page.c.activity_id, *(page.c[c] for c in PARTY_COLUMNS)).join(
        activities, activities.c.id == page.c.activity_id
    )
    session.execute(sa.insert(PARTIES).from_select(("activity_id", *PARTY_COLUMNS), appended))


def party_map_empty(*, session: Session) -> bool:
    return session.execute(sa.select(PARTY_MAP.c.party_id).limit(1)).first() is None


def rebuild_parties(*, session: Session, activity_ids: Collection[str]) -> int:
    """crm_activity_party of these activities becomes exactly what the map holds for them
    (only for activities the contract holds), in two set-based statements. Returns the
    parties written."""
    if not activity_ids:
        return 0
    ids = id_set(session, activity_ids)
    activities = CONTRACT["crm_activity"]
    session.execute(sa.delete(PARTIES).where(PARTIES.c.activity_id.in_(ids)))
    mapped = (
        sa.select(PARTY_MAP.c.activity_id, *(PARTY_MAP.c[c] for c in PARTY_COLUMNS))
        .join(activities, activities.c.id == PARTY_MAP.c.activity_id)
        .where(PARTY_MAP.c.activity_id.in_(ids))
        .order_by(PARTY_MAP.c.activity_id, PARTY_MAP.c.party_id)
    )
    written = session.execute(
        sa.insert(PARTIES).from_select(("activity_id", *PARTY_COLUMNS), mapped)
    )
    return int(written.rowcount)  # type: ignore[attr-defined]


# --- pushes ----------------------------------------------------------------------------


def pushed_digests(*, session: Session) -> dict[tuple[str, str], tuple[str, str]]:
    """(record_type, record_id) -> (digest, outcome) of every record pushed before."""
    query = sa.select(PUSHES.c.record_type, PUSHES.c.record_id, PUSHES.c.digest, PUSHES.c.outcome)
    return {(t, i): (d, o) for t, i, d, o in session.execute(query)}


def record_pushes(
    *,
    session: Session,
    pushed: Sequence[tuple[str, str, str, dict[str, Any]]],
    outcome: str,
    at: datetime,
) -> None:
    """Remember what was written (or tried) per record: (type, id, digest, values); the
    values are kept only when written (a failed or missing record keeps the last ones).
    One upsert for the whole batch (not a read and a write per record)."""
    if not pushed:
        return
    rows = [
        {
            "record_type": record_type,
            "record_id": record_id,
            "digest": digest,
            "outcome": outcome,
            "pushed_at": at,
            "pushed_values": values if outcome == "pushed" else {},
        }
        for record_type, record_id, digest, values in pushed
    ]
    insert = (postgresql.insert if is_postgres(session) else sqlite.insert)(PUSHES)
    kept = ["digest", "outcome", "pushed_at"] + (["pushed_values"] if outcome == "pushed" else [])
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[PUSHES.c.record_type, PUSHES.c.record_id],
            set_={column: insert.excluded[column] for column in kept},
        ),
        rows,
    )


def has_pushed_values(*, session: Session) -> bool:
    """Whether some record still carries a value Rapport pushed (not only emptied ones)."""
    for values in session.scalars(
        sa.select(PUSHES.c.pushed_values).where(PUSHES.c.outcome == "pushed")
    ):
        if values and any(value is not None for value in values.values()):
            return True
    return False
