"""Stored interactions load back for scoring with exactly their parties."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from scoring.model import Direction, Kind, Party, RecordRef, RecordType, Response, Role
from storage.rapport_tables import Interaction, InteractionParty
from tests import factories as f
from worker.interactions import load_interactions

ODD_ID = "c\x1eodd\x1fid"  # the separators of the packed party column, inside an id


def _interaction(key: str, **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "key": key, "source": "crm", "kind": "meeting", "direction": "outbound",
        "occurred_at": f.days_ago(1), "duration_minutes": 30.0, "conversation_id": None,
        "regarding_type": None, "regarding_id": None, "planned": False, "opens": 0,
        "clicks": 0, "crm_activity_id": None,
    }  # fmt: skip
    row.update(values)
    return row


def _party(key: str, record_type: str, record_id: str, role: str, side: str,
           response: str | None = None) -> dict[str, object]:  # fmt: skip
    return {"interaction_key": key, "record_type": record_type, "record_id": record_id,
            "role": role, "side": side, "response": response}  # fmt: skip


def test_parties_load_sorted_and_whole_even_with_separator_characters(engine: Engine) -> None:
    f.insert(engine, Interaction, _interaction("crm:1"), _interaction("crm:2"),
             _interaction("crm:3", regarding_type="opportunity", regarding_id="o1"))  # fmt: skip
    f.insert(
        engine,
        InteractionParty,
        _party("crm:1", "contact", "c2", "required", "external", "declined"),
        _party("crm:1", "system_user", "u1", "organizer", "internal"),
        _party("crm:1", "contact", "c1", "required", "external", "accepted"),
        _party("crm:2", "contact", ODD_ID, "required", "external", "tentative"),
        _party("crm:2", "system_user", "u1", "organizer", "internal"),
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
    f.insert(engine, Interaction, _interaction("crm:1"))
    f.insert(engine, InteractionParty, _party("crm:1", "contact", forged, "required", "external"))

    [loaded] = load_interactions(engine)

    assert loaded.internal == ()
    assert loaded.external == (Party(RecordRef(RecordType.CONTACT, forged), Role.REQUIRED),)
