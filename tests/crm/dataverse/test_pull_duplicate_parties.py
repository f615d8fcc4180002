"""A Dataverse activity that lists one person twice in one participation type, pulled
and then ingested: the pull keeps both activity parties, the CRM path makes them one
participant (docs/crm-contract.md), and the run does not fail (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm.dataverse.client import DataverseClient
from crm.dataverse.pull import Puller
from emulator.dataverse.testing import LoopbackDataverse, rid
from storage.crm_ingest import ingest_crm_activities

NOW = datetime.now(UTC)  # the emulator stamps createdon with the clock
MEETING, EMAIL = rid("appointment", 1), rid("email", 1)
BEA, ALEX = rid("contact", "bea"), rid("contact", "alex")


def again(entity_set: str, activity: str, contact: str, mask: int, address: str) -> dict[str, Any]:
    """One more activity party naming `contact`, as the Web API takes it."""
    logical = entity_set.removesuffix("s")
    return {
        "activitypartyid": rid("party", activity, "again"),
        f"activityid_{logical}@odata.bind": f"/{entity_set}({activity})",
        "partyid_contact@odata.bind": f"/contacts({contact})",
        "addressused": address,
        "participationtypemask": mask,
    }


async def test_a_person_twice_in_one_participation_type_is_one_participant(
    client: DataverseClient, dv: LoopbackDataverse, engine: Engine
) -> None:
    # Bea a required attendee again under another spelling; Alex a "to" recipient again.
    dv.dataverse.add_row(
        "activityparties", again("appointments", MEETING, BEA, 5, "BEA@fabrikam.com")
    )
    dv.dataverse.add_row("activityparties", again("emails", EMAIL, ALEX, 2, "alex@fabrikam.com"))

    pulled = await Puller(client, engine, now=NOW).pull()
    report = ingest_crm_activities(engine, now=NOW)

    assert pulled.problems.count == 0
    # The standard call and task carry no time (reported); the two here are clean.
    assert not {p.row_id for p in report.problems.examples} & {MEETING, EMAIL}
    assert report.counts.added == 2
    with engine.connect() as connection:
        listed = connection.execute(
            sa.text(
                "SELECT activity_id, record_id, role FROM crm_activity_party"
                " WHERE record_id IN (:bea, :alex) AND role IN ('required', 'to')"
            ),
            {"bea": BEA, "alex": ALEX},
        ).all()
        taken = connection.execute(
            sa.text(
                "SELECT crm_activity_id, record_id, role FROM interaction_party"
                " JOIN interaction ON interaction.key = interaction_party.interaction_key"
                " WHERE record_id IN (:bea, :alex) AND role IN ('required', 'to')"
            ),
            {"bea": BEA, "alex": ALEX},
        ).all()
    assert sorted(listed) == sorted([(MEETING, BEA, "required"), (EMAIL, ALEX, "to")] * 2)
    assert sorted(taken) == sorted([(MEETING, BEA, "required"), (EMAIL, ALEX, "to")])
