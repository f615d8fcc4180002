"""A CRM book and `rapport run --once` as real processes, for the tests of runs that meet.

The book is written in a few bulk statements: several accounts, each with
its contacts and a few weeks of logged emails, so scoring splits it into as
many shares as the tests ask processes for.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.crm_tables import Account, Contact, CrmActivity, CrmActivityParty
from storage.rapport_tables import HealthSnapshot, Interaction, RelationshipKpi
from storage.types import core_table
from tests import factories as f
from tests.worker.service.harness import clean_environment

RUN = [
    sys.executable,
    "-m",
    "worker.cli",
    "run",
    "--once",
    "--json",
    "--now",
    f.NOW.isoformat(),
]
SELLER = "ana@ours.example"


def seed_book(engine: Engine, *, accounts: int = 6, contacts: int = 8, emails: int = 6) -> int:
    """`accounts` accounts of `contacts` contacts with `emails` logged emails each;
    returns the number of CRM activities."""
    f.user(engine, "u1", SELLER, "Ana Seller")
    account_rows, contact_rows, activity_rows, party_rows = [], [], [], []
    for a in range(accounts):
        account_rows.append({"id": f"a{a}", "name": f"Account {a}", "primary_contact_id": None})
        for c in range(contacts):
            contact, address = f"a{a}-c{c}", f"a{a}-c{c}@customer.example"
            contact_rows.append(
                {
                    "id": contact,
                    "email": address,
                    "full_name": f"Person {contact}",
                    "account_id": f"a{a}",
                }
            )
            for week in range(emails):
                activity, at = f"act-{contact}-{week}", f.days_ago(7 * week + c)
                activity_rows.append(
                    {
                        "id": activity,
                        "kind": "email",
                        "owner_id": "u1",
                        "status": "completed",
                        "start_at": at,
                        "end_at": at + timedelta(minutes=1),
                    }
                )
                party_rows += [
                    {"activity_id": activity, "role": "from", "address": SELLER},
                    {"activity_id": activity, "role": "to", "address": address},
                ]
    with engine.begin() as connection:
        tables = (
            (Account, account_rows),
            (Contact, contact_rows),
            (CrmActivity, activity_rows),
            (CrmActivityParty, party_rows),
        )
        for model, rows in tables:
            connection.execute(sa.insert(core_table(model)), rows)
    return len(activity_rows)


def counts(engine: Engine) -> dict[str, int]:
    """Rows a run writes: interactions, KPI rows, history snapshots, scored contacts."""
    contact = core_table(Contact)
    with engine.connect() as connection:
        found = {
            table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            for table in (
                core_table(Interaction),
                core_table(RelationshipKpi),
                core_table(HealthSnapshot),
            )
        }
        scored = sa.select(sa.func.count()).where(contact.c.health_updated_at.is_not(None))
        found["scored contacts"] = connection.execute(scored).scalar()
    return {name: int(value or 0) for name, value in found.items()}


def start_run(database_url: str, log: Path, **settings: str) -> subprocess.Popen[bytes]:
    """`rapport run --once` as a process of its own; its stdout and stderr go to `log`."""
    env = clean_environment(database_url=database_url, **settings)
    with log.open("wb") as sink:
        return subprocess.Popen(RUN, env=env, stdout=sink, stderr=subprocess.STDOUT)
