"""Every writer keeps each interaction's packed parties equal to its party rows.

Scoring reads `interaction.parties` alone (storage.packed_parties): a writer
that forgot the copy would score interactions without their people. Each test
writes through one real path and compares the copy with `interaction_party`,
both as stored text and as the parties scoring loads.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from compliance.erase import erase_subject
from compliance.retention import purge_retention
from storage import migrate
from storage.crm_ingest import ingest_crm_activities
from storage.crm_tables import CrmActivityParty
from storage.engine import create_store_engine, session_scope
from storage.interaction_store import InteractionRecord, PartyRow, insert_interactions
from storage.packed_parties import pack_parties
from storage.sync_store import PageWrite, commit_page
from tests import factories as f
from worker.run.interactions import load_interactions

# Ids holding the packed column's separators and what COPY's text format escapes.
ODD_IDS = ("c\x1eodd", "c\x1fodd", "c\ttab", "c\\back\\slash", "c\nline", "c1\x1einternal\x1fx")

Party = tuple[str, str, str, str, str | None]  # side, record type, record id, role, response


def _party_rows(engine: Engine) -> dict[str, list[PartyRow]]:
    query = "SELECT interaction_key, record_type, record_id, role, side, response "
    rows: dict[str, list[PartyRow]] = {}
    with engine.connect() as connection:
        for key, *party in connection.execute(sa.text(f"{query} FROM interaction_party")):
            rows.setdefault(key, []).append(PartyRow(*party))
    return rows


def _as_parties(rows: Iterable[PartyRow]) -> set[Party]:
    return {(p.side, p.record_type, p.record_id, p.role, p.response) for p in rows}


def _loaded_parties(engine: Engine) -> dict[str, set[Party]]:
    loaded = {}
    for interaction in load_interactions(engine):
        sides = (("internal", interaction.internal), ("external", interaction.external))
        loaded[interaction.key] = {
            (side, p.ref.type.value, p.ref.id, p.role.value, p.response and p.response.value)
            for side, parties in sides
            for p in parties
        }
    return loaded


def assert_copies_match_party_rows(engine: Engine) -> None:
    """The stored copy is exactly what pack_parties makes of the party rows, and scoring
    loads exactly the party rows."""
    rows = _party_rows(engine)
    with engine.connect() as connection:
        query = sa.text("SELECT key, parties, party_count FROM interaction")
        stored = {key: (parties, count) for key, parties, count in connection.execute(query)}
    assert stored, "nothing was written"
    assert stored == {key: pack_parties(rows.get(key, [])) for key in stored}
    loaded = _loaded_parties(engine)
    assert loaded == {key: _as_parties(rows.get(key, [])) for key in stored}


def _crm(engine: Engine) -> None:
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.account(engine, "a1", "Contoso", primary="c1")
    f.contact(engine, "c1", "dana@contoso.example", "Dana Ruiz", "a1")
    f.contact(engine, "c2", "lee@contoso.example", "Lee Park", "a1")


def test_crm_ingest_writes_the_copy(engine: Engine) -> None:
    _crm(engine)
    f.email(engine, sender="ana@ours.example", to=["dana@contoso.example"], at=f.days_ago(3))
    f.meeting(
        engine,
        organizer="ana@ours.example",
        attendees={"dana@contoso.example": "accepted", "lee@contoso.example": "declined"},
        start=f.days_ago(2),
    )
    f.call(engine, owner="u1", contact_id="c2", at=f.days_ago(1))

    ingest_crm_activities(engine)

    assert_copies_match_party_rows(engine)
    assert {len(parties) for parties in _loaded_parties(engine).values()} == {2, 3}


def test_a_crm_activity_whose_parties_change_gets_a_new_copy(engine: Engine) -> None:
    _crm(engine)
    f.email(
        engine,
        sender="ana@ours.example",
        to=["dana@contoso.example"],
        at=f.days_ago(3),
        activity_id="e1",
    )
    ingest_crm_activities(engine)
    lee_in_cc = {"activity_id": "e1", "role": "cc", "address": "lee@contoso.example"}
    f.insert(engine, CrmActivityParty, lee_in_cc)

    ingest_crm_activities(engine)

    assert_copies_match_party_rows(engine)
    assert ("external", "contact", "c2", "cc", None) in _loaded_parties(engine)["crm:e1"]


def _message(*parties: PartyRow) -> InteractionRecord:
    at = f.days_ago(1)
    return InteractionRecord("msg:<m1@x>", "exchange", "email", "inbound", at, frozenset(parties))


def _page(mailbox: str, item: str, record: InteractionRecord) -> PageWrite:
    return PageWrite(mailbox, "inbox", "mail", 0, [(item, record)], [], None, None, f.NOW)


def test_exchange_pages_write_the_copy_and_merge_a_second_mailboxs_copy(engine: Engine) -> None:
    alex = PartyRow("contact", "c-alex", "from", "external")
    adele = PartyRow("system_user", "u-adele", "to", "internal")
    commit_page(engine, _page("mailbox-adele", "item-1", _message(alex, adele)))
    assert_copies_match_party_rows(engine)

    # The sender's copy shows a BCC recipient the first one did not: the parties are the union.
    bcc = PartyRow("system_user", "u-bo", "bcc", "internal")
    commit_page(engine, _page("mailbox-bo", "item-9", _message(alex, bcc)))

    assert_copies_match_party_rows(engine)
    assert len(_loaded_parties(engine)["msg:<m1@x>"]) == 3


def test_erasing_one_party_rewrites_the_copy_of_the_interactions_that_stay(engine: Engine) -> None:
    _crm(engine)
    f.email(
        engine,
        sender="ana@ours.example",
        to=["dana@contoso.example", "lee@contoso.example"],
        at=f.days_ago(3),
        activity_id="shared",
    )
    f.email(engine, sender="ana@ours.example", to=["dana@contoso.example"], at=f.days_ago(2))
    ingest_crm_activities(engine)

    erase_subject(engine, "contact:c1", now=f.NOW, dry_run=False)

    assert_copies_match_party_rows(engine)
    assert _loaded_parties(engine) == {
        "crm:shared": {
            ("internal", "system_user", "u1", "from", None),
            ("external", "contact", "c2", "to", None),
        }
    }


def test_ids_with_separator_and_escape_characters_load_back_whole(engine: Engine) -> None:
    organizer = PartyRow("system_user", "u\\1\t", "organizer", "internal")
    records = [
        InteractionRecord(
            f"crm:{n}",
            "crm",
            "meeting",
            "outbound",
            f.days_ago(1),
            frozenset({organizer, PartyRow("contact", odd, "required", "external", "accepted")}),
        )
        for n, odd in enumerate(ODD_IDS)
    ]
    with session_scope(engine) as session:
        insert_interactions(session=session, records=records)

    assert_copies_match_party_rows(engine)
    assert _loaded_parties(engine) == {r.key: _as_parties(r.parties) for r in records}


def _write_before_the_copy_existed(engine: Engine) -> None:
    """Rows as Rapport wrote them at revision 0006: interaction rows and party rows."""
    at = f.days_ago(1)
    interactions = [{"key": key, "at": at} for key in ("crm:1", "crm:2", "crm:none")]
    parties = [
        ("crm:1", "system_user", "u1", "organizer", "internal", None),
        ("crm:1", "contact", "c2", "required", "external", "declined"),
        ("crm:1", "contact", "c1", "required", "external", "accepted"),
        ("crm:1", "contact", "c1", "optional", "external", None),
        *(("crm:2", "contact", odd, "to", "external", None) for odd in ODD_IDS),
        ("crm:2", "system_user", "u1", "from", "internal", None),
    ]
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO interaction (key, source, kind, direction, occurred_at, "
                "duration_minutes, planned, opens, clicks) "
                "VALUES (:key, 'crm', 'meeting', 'outbound', :at, 30, false, 0, 0)"
            ),
            interactions,
        )
        connection.execute(
            sa.text("INSERT INTO interaction_party VALUES (:k, :t, :i, :r, :s, :a)"),
            [dict(zip(("k", "t", "i", "r", "s", "a"), party, strict=True)) for party in parties],
        )


def test_the_migration_copies_the_party_rows_of_stored_interactions(
    empty_database_url: str,
) -> None:
    engine = create_store_engine(empty_database_url)
    try:
        migrate.upgrade(engine, "0006")
        _write_before_the_copy_existed(engine)

        migrate.upgrade(engine)

        assert_copies_match_party_rows(engine)
        assert len(_loaded_parties(engine)["crm:2"]) == len(ODD_IDS) + 1
        assert _loaded_parties(engine)["crm:none"] == set()

        # And back: the columns go, the party rows stay (no table rebuild on SQLite).
        migrate.downgrade(engine, "0006")
        with engine.connect() as connection:
            count = connection.execute(sa.text("SELECT count(*) FROM interaction_party"))
            assert count.scalar() == 4 + len(ODD_IDS) + 1
    finally:
        engine.dispose()


def test_a_retention_purge_leaves_the_copies_of_the_interactions_that_stay(
    engine: Engine,
) -> None:
    old, recent = f.days_ago(800), f.days_ago(1)
    party = PartyRow("contact", "c1", "to", "external")
    records = [
        InteractionRecord(key, "crm", "email", "outbound", at, frozenset({party}))
        for key, at in (("crm:old", old), ("crm:recent", recent))
    ]
    with session_scope(engine) as session:
        insert_interactions(session=session, records=records)

    purge_retention(engine, now=f.NOW, interaction_days=730, snapshot_daily_days=90)

    assert_copies_match_party_rows(engine)
    assert set(_loaded_parties(engine)) == {"crm:recent"}
