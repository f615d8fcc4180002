"""Stored interactions load back for scoring with exactly their parties."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.engine import Engine

from scoring.model import Direction, Kind, Party, RecordRef, RecordType, Response, Role
from storage.engine import session_scope
from storage.interaction_store import InteractionRecord, PartyRow, insert_interactions
from tests import factories as f
from worker.run.interaction_columns import read_columns
from worker.run.interactions import load_interactions

ODD_ID = "c\x1eodd\x1fid"  # the separators of the packed party column, inside an id


def _meeting(key: str, *parties: PartyRow) -> InteractionRecord:
    return InteractionRecord(
        key=key,
        source="crm",
        kind="meeting",
        direction="outbound",
        occurred_at=f.days_ago(1),
        parties=frozenset(parties),
        duration_minutes=30.0,
    )


def _store(engine: Engine, *records: InteractionRecord) -> None:
    with session_scope(engine) as session:
        insert_interactions(session=session, records=records)


def test_parties_load_sorted_and_whole_even_with_separator_characters(engine: Engine) -> None:
    organizer = PartyRow("system_user", "u1", "organizer", "internal")
    _store(
        engine,
        _meeting(
            "crm:1",
            PartyRow("contact", "c2", "required", "external", "declined"),
            organizer,
            PartyRow("contact", "c1", "required", "external", "accepted"),
        ),
        _meeting(
            "crm:2", PartyRow("contact", ODD_ID, "required", "external", "tentative"), organizer
        ),
        replace(_meeting("crm:3"), regarding_type="opportunity", regarding_id="o1"),
    )

    loaded = {i.key: i for i in load_interactions(engine)}

    u1 = Party(RecordRef(RecordType.SYSTEM_USER, "u1"), Role.ORGANIZER)
    first = loaded["crm:1"]
    assert (first.kind, first.direction) == (Kind.MEETING, Direction.OUTBOUND)
    assert first.internal == (u1,)
    assert first.external == (
        Party(RecordRef(RecordType.CONTACT, "c1"), Role.REQUIRED, Response.ACCEPTED),
        Party(RecordRef(RecordType.CONTACT, "c2"), Role.REQUIRED, Response.DECLINED),
    )
    assert loaded["crm:2"].external == (
        Party(RecordRef(RecordType.CONTACT, ODD_ID), Role.REQUIRED, Response.TENTATIVE),
    )
    assert loaded["crm:2"].internal == (u1,)
    third = loaded["crm:3"]
    assert (third.internal, third.external) == ((), ())
    assert third.regarding == RecordRef(RecordType.OPPORTUNITY, "o1")
    assert third.occurred_at == f.days_ago(1)


def test_an_id_forging_a_second_party_does_not_fool_the_loader(engine: Engine) -> None:
    forged = "c1\x1einternal\x1fsystem_user\x1forganizer\x1f\x1fu9"
    _store(engine, _meeting("crm:1", PartyRow("contact", forged, "required", "external")))

    [loaded] = load_interactions(engine)

    assert loaded.internal == ()
    assert loaded.external == (Party(RecordRef(RecordType.CONTACT, forged), Role.REQUIRED),)


def test_the_columnar_read_gives_every_interaction_the_same_parties(engine: Engine) -> None:
    people = [
        PartyRow("contact", f"c{n}", role, "external", response)
        for n, (role, response) in enumerate(
            [("required", "declined"), ("optional", None), ("required", "accepted")] * 3
        )
    ]
    colleagues = [PartyRow("system_user", f"u{n}", "required", "internal") for n in (3, 1, 2)]
    _store(
        engine,
        _meeting("crm:1", *people[::-1], *colleagues),
        _meeting("crm:2", *people[3:7], colleagues[0]),
        _meeting("crm:3", PartyRow("contact", ODD_ID, "required", "external"), *colleagues),
        _meeting("crm:4", people[0], PartyRow("contact", "c0", "optional", "external")),
    )

    columns = read_columns(engine, chunk=2)

    read = {i.key: i for i in columns.interactions(range(len(columns)))}
    assert read == {i.key: i for i in load_interactions(engine)}
    assert [p.ref.id for p in read["crm:1"].external] == sorted(f"c{n}" for n in range(9))
