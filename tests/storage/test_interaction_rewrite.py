"""A changed interaction is rewritten in place (storage.interaction_store.sync_records).

What the CRM pass asks for must end up stored exactly, the packed party copy
with it; what another writer changed since the pass read the row, in a
column the pass does not change, must stay; a row another writer deleted
meanwhile is written again, as a delete-and-insert would have.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from compliance.erase import erase_subject
from storage.engine import session_scope
from storage.interaction_store import (
    InteractionRecord,
    PartyRow,
    insert_interactions,
    load_records,
    sync_records,
)
from tests import factories as f
from tests.storage.test_packed_parties import ODD_IDS, assert_copies_match_party_rows

ANA = PartyRow("system_user", "u1", "from", "internal")
DANA = PartyRow("contact", "c1", "to", "external")
LEE = PartyRow("contact", "c2", "cc", "external")


def _email(key: str, *parties: PartyRow, **values: object) -> InteractionRecord:
    record = InteractionRecord(key, "crm", "email", "outbound", f.days_ago(3), frozenset(parties))
    return replace(record, **values)  # type: ignore[arg-type]


def _store(engine: Engine, *records: InteractionRecord) -> dict[str, InteractionRecord]:
    with session_scope(engine) as session:
        insert_interactions(session=session, records=records)
    return _stored(engine)


def _stored(engine: Engine) -> dict[str, InteractionRecord]:
    with session_scope(engine) as session:
        return load_records(session=session, source="crm")


def _sync(
    engine: Engine, desired: list[InteractionRecord], stored: dict[str, InteractionRecord]
) -> None:
    with session_scope(engine) as session:
        sync_records(session=session, desired={r.key: r for r in desired}, stored=stored)


def test_every_column_and_the_parties_change_in_place(engine: Engine) -> None:
    odd = PartyRow("contact", ODD_IDS[-1], "to", "external", "accepted")
    stored = _store(
        engine,
        _email("crm:times", ANA, DANA),
        _email("crm:parties", ANA, DANA),
        _email("crm:same", ANA, DANA),
    )
    desired = [
        _email(
            "crm:times",
            ANA,
            DANA,
            occurred_at=f.days_ago(3) - timedelta(hours=1, microseconds=7),
            duration_minutes=12.5,
            conversation_id="conv\t1",
            regarding_type="account",
            regarding_id="a1",
            planned=True,
            opens=4,
            clicks=2,
            crm_activity_id="times",
            kind="meeting",
            direction="inbound",
        ),
        _email("crm:parties", ANA, LEE, odd, opens=1),
        _email("crm:same", ANA, DANA),
    ]

    _sync(engine, desired, stored)

    assert _stored(engine) == {record.key: record for record in desired}
    assert_copies_match_party_rows(engine)


def test_a_row_deleted_by_another_writer_meanwhile_is_written_again(engine: Engine) -> None:
    stored = _store(engine, _email("crm:e1", ANA, DANA), _email("crm:e2", ANA, DANA))
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM interaction WHERE key = 'crm:e1'"))
    desired = [_email("crm:e1", ANA, DANA, opens=2), _email("crm:e2", ANA, LEE)]

    _sync(engine, desired, stored)

    assert _stored(engine) == {record.key: record for record in desired}
    assert_copies_match_party_rows(engine)


def test_an_erasure_since_the_read_is_not_undone_where_the_parties_did_not_change(
    engine: Engine,
) -> None:
    """The CRM pass read the row with Lee on it; Lee was erased before it wrote. Only the
    count it changed is written: Lee stays off the party rows and the packed copy."""
    f.contact(engine, "c2", "lee@contoso.example", "Lee Park", None)
    stored = _store(engine, _email("crm:e1", ANA, DANA, LEE))
    erase_subject(engine, "contact:c2", now=f.NOW, dry_run=False)

    _sync(engine, [_email("crm:e1", ANA, DANA, LEE, opens=5)], stored)

    assert _stored(engine) == {"crm:e1": _email("crm:e1", ANA, DANA, opens=5)}
    assert_copies_match_party_rows(engine)
