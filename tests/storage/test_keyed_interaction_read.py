"""The CRM pass reads the stored interactions it may change by key
(storage.interaction_store.load_records): what it gets back is exactly what was
written, parties included, whether they come from the row's packed copy or,
where that copy cannot be read back (a separator inside an id), from the party
rows; and it is what a full read gives (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from storage.engine import session_scope
from storage.interaction_store import (
    InteractionRecord,
    PartyRow,
    insert_interactions,
    load_records,
)
from tests import factories as f
from tests.storage.test_packed_parties import ODD_IDS

ANA = PartyRow("system_user", "u1", "from", "internal")


def _record(key: str, *parties: PartyRow, source: str = "crm") -> InteractionRecord:
    at = f.days_ago(len(key))
    return InteractionRecord(key, source, "meeting", "outbound", at, frozenset(parties))


def test_interactions_read_by_key_are_what_was_written(engine: Engine) -> None:
    written = [
        _record("crm:plain", ANA, PartyRow("contact", "c1", "required", "external", "accepted")),
        _record("crm:nobody"),
        _record("crm:owner-only", ANA),
        *(
            _record(f"crm:odd-{n}", ANA, PartyRow("contact", odd, "optional", "external"))
            for n, odd in enumerate(ODD_IDS)
        ),
        _record("msg:exchange", ANA, source="exchange"),  # another source: not read
    ]
    with session_scope(engine) as session:
        insert_interactions(session=session, records=written)
    keys = [record.key for record in written] + ["crm:never-stored"]

    with session_scope(engine) as session:
        by_key = load_records(session=session, source="crm", keys=keys)
        everything = load_records(session=session, source="crm")

    expected = {record.key: record for record in written if record.source == "crm"}
    assert by_key == expected
    assert everything == expected
