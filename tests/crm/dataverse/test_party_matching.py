"""The Dataverse pull keeps an activity party as the person the CRM ingest matches the
same party to: by the record it names when Rapport knows it, else by its address
(trimmed, any case), else nobody (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from crm.dataverse.client import DataverseClient
from crm.dataverse.mapping import PARTY_TYPES
from crm.dataverse.pull import Puller
from emulator.dataverse.testing import LOOKUP, rid, standard_environment
from storage.crm_activity_rows import ActivityPartyRow, activities_by_id
from storage.crm_activity_rules import TimeWindow, to_interaction
from storage.directory import load_directory

NOW = datetime.now(UTC)  # the emulator stamps createdon with the clock
EMAIL = rid("email", 1)
ADELE, ALEX, BEA = rid("systemuser", "adele"), rid("contact", "alex"), rid("contact", "bea")
LEAD, NOBODY = rid("lead", 1), rid("contact", "not-in-the-crm")
CC = 3  # participationtypemask: a role the email's owner never takes

# What each party names (its record's table and id, the address used) and whom both
# paths take it for.
CASES: dict[str, tuple[str | None, str | None, str | None, tuple[str, str] | None]] = {
    "known record over another's address": ("contact", BEA, "alex@fabrikam.com", ("contact", BEA)),
    "unknown record, known address": ("contact", NOBODY, "  ALEX@Fabrikam.com ", ("contact", ALEX)),
    "address alone, another case": (None, None, "Bea@FABRIKAM.com", ("contact", BEA)),
    "a colleague's address": (None, None, "adele@contoso.com", ("system_user", ADELE)),
    "a lead by record": ("lead", LEAD, None, ("lead", LEAD)),
    "unknown record, no address": ("contact", NOBODY, None, None),
    "a stranger's address": (None, None, "stranger@elsewhere.example", None),
}


def _party_id(case: str) -> str:
    return rid("party", "matching", case)


@pytest.fixture
def environment() -> dict[str, Any]:
    """The standard environment, its email carrying one more cc party per case."""
    environment = standard_environment()
    for case, (table, record, address, _expected) in CASES.items():
        row: dict[str, Any] = {
            "activitypartyid": _party_id(case),
            "_activityid_value": EMAIL,
            f"_activityid_value{LOOKUP}": "email",
            "participationtypemask": CC,
        }
        if record is not None:
            row |= {"_partyid_value": record, f"_partyid_value{LOOKUP}": table}
        if address is not None:
            row["addressused"] = address
        environment["tables"]["activityparties"].append(row)
    return environment


def _kept_by_the_pull(engine: Engine) -> dict[str, tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT party_id, record_type, record_id FROM dataverse_party")
        )
        return {party: (kind, record) for party, kind, record in rows}


def _matched_by_the_ingest(engine: Engine, party: ActivityPartyRow) -> tuple[str, str] | None:
    """Whom the CRM ingest takes the party for, were it the email's one listed party."""
    with Session(engine) as session:
        directory = load_directory(session=session)
        [email] = activities_by_id(session=session, ids=[EMAIL], unreadable=[])
    interaction = to_interaction(email, [party], directory, window=TimeWindow.around(NOW), noted=[])
    assert interaction is not None  # the email is regarding the deal: never left out
    matched = [(p.record_type, p.record_id) for p in interaction.parties if p.role == party.role]
    return matched[0] if matched else None


async def test_the_pull_and_the_crm_ingest_match_each_party_alike(
    client: DataverseClient, engine: Engine
) -> None:
    report = await Puller(client, engine, now=NOW).pull()
    kept = _kept_by_the_pull(engine)

    assert report.problems.count == 0
    for case, (table, record, address, expected) in CASES.items():
        # As a CRM that keeps its own tables lists it: the party's raw reference and address.
        listed = ActivityPartyRow(
            0, EMAIL, "cc", address, PARTY_TYPES[table] if table else None, record, None
        )
        assert kept.get(_party_id(case)) == expected, case
        assert _matched_by_the_ingest(engine, listed) == expected, case
