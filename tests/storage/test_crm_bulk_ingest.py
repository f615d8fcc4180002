"""The first ingest derived in SQL (PostgreSQL) gives what the Python rules give.

The Python rules (`bulk=False`) are the reference: over a book of every kind
of activity, clean and broken, both ways must store the same interactions,
party rows and digests and report the same counts and problems. Equal
digests also mean a later pass skips every activity the SQL pass derived.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from compliance.erase import erase_subject
from storage.crm_activity_rows import iter_activities, parties_by_activity
from storage.crm_activity_rules import TimeWindow
from storage.crm_bulk_ingest import SPACES
from storage.crm_digests import Digester, load_digests
from storage.crm_ingest import CrmIngestReport, ingest_crm_activities
from storage.crm_tables import CrmActivity, CrmActivityParty
from storage.directory import load_directory
from storage.engine import session_scope
from storage.mailbox_store import exchange_covered_users
from storage.sync_tables import Mailbox
from tests import factories as f
from tests.factories import POSTGRES_ONLY

# SQLite derives every activity with the Python rules: the SQL first ingest is PostgreSQL's.

USERS = {"u1": "ana@ours.example", "u2": "ben@ours.example", "u3": "cy@ours.example"}
CONTACTS = {
    "c1": "dana@contoso.example",
    "c2": "Lee@Contoso.example",
    "c3": "zoë@fabrikam.example",
    "c4": "erased@contoso.example",
}
LEADS = {"l1": "lead@prospect.example"}
ADDRESSES = [
    *["ana@ours.example", "dana@contoso.example"] * 4,
    "  BEN@ours.example ",
    "lee@contoso.example\t",
    "dana@contoso.example",
    "lee@contoso.example",
    "ZOË@fabrikam.example",
    "zoë@fabrikam.example\u00a0",
    "lead@prospect.example",
    "erased@contoso.example",
    "stranger@elsewhere.example",
    "",
    None,
]
REFERENCES = [
    *[(None, None)] * 10,
    ("contact", "c1"),
    ("contact", "c-missing"),
    ("system_user", "u2"),
    ("lead", "l1"),
    ("account", "a1"),
    ("contact", "c4"),
]
KINDS = ["email"] * 6 + ["appointment"] * 3 + ["phone_call"] * 2 + ["task", "fax"]
STATUSES = ["completed"] * 6 + ["open", "cancelled", "done"]
DIRECTIONS = [None] * 6 + ["incoming", "outgoing", "sideways"]
ROLES = ["from", "to"] * 8 + ["cc", "organizer", "required", "optional", "boss"]
RESPONSES = [None] * 6 + ["accepted", "declined", "maybe"]
# Dana (c1) by address and by reference, with these answers in party order.
DUPLICATE_NAMES = [(None, None), ("contact", "c1"), (None, None)]
DUPLICATE_ANSWERS = [
    ("none", "accepted"),
    ("declined", "accepted"),
    (None, "tentative", "declined"),
    ("accepted", "accepted"),
]
REGARDING: list[tuple[str | None, str | None]] = [(None, None)] * 8
REGARDING += [("account", "a1"), ("opportunity", "o1"), ("contact", "c4")]
REGARDING += [("contact", None), (None, "a1"), ("planet", "p1")]


def _book(engine: Engine, rng: random.Random) -> None:
    for user_id, address in USERS.items():
        f.user(engine, user_id, address, user_id)
    f.account(engine, "a1", "Contoso", primary="c1")
    for contact_id, address in CONTACTS.items():
        f.contact(engine, contact_id, address, contact_id, "a1")
    f.lead(engine, "l1", LEADS["l1"], "Lee Lead", "u1")
    f.opportunity(engine, "o1", "a1", "u1", "c1")
    since = f.days_ago(40)
    mailbox = {"tenant_id": "t", "location_allowed": True, "status": "ok"}
    f.insert(
        engine,
        Mailbox,
        {"id": "m1", "system_user_id": "u3", "exchange_since": since, **mailbox},
        {"id": "m2", "system_user_id": "u2", "exchange_since": since, **mailbox},
    )
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE mailbox SET last_success_at = :at"), {"at": f.NOW})
    activities, parties = [], []
    for number in range(400):
        activity = _activity(rng, f"act-{number:04d}")
        activities.append(activity)
        for _party in range(rng.choice([0, 1, 2, 2, 3, 4])):
            parties.append(_party_row(rng, activity["id"], rng.choice(RESPONSES)))
    # The same person twice in one role with other answers, whatever the draws gave.
    for number, answers in enumerate(DUPLICATE_ANSWERS):
        activity = {
            **_activity(rng, f"dup-{number}"),
            **{"kind": "appointment", "status": "completed", "direction": None},
            **{"start_at": f.days_ago(3), "end_at": f.days_ago(3) + timedelta(minutes=30)},
            **{"owner_id": "u1", "regarding_type": None, "regarding_id": None, "opens": 0},
        }
        activities.append(activity)
        for answer, (record_type, record_id) in zip(answers, DUPLICATE_NAMES, strict=False):
            parties.append(
                {
                    **_party_row(rng, activity["id"], answer),
                    "role": "required",
                    "address": CONTACTS["c1"] if record_id is None else None,
                    "record_type": record_type,
                    "record_id": record_id,
                }
            )
    f.insert(engine, CrmActivity, *activities)
    f.insert(engine, CrmActivityParty, *parties)
    erase_subject(engine, CONTACTS["c4"], now=f.NOW, dry_run=False)


def _activity(rng: random.Random, activity_id: str) -> dict[str, Any]:
    start = f.days_ago(rng.choice([-4000, -3, 0.01, 1, 5, 30, 60, 200, 900, 20000, *[3] * 10]))
    start = start.replace(microsecond=rng.choice([0] * 10 + [250_000]))
    span = rng.choice([0, 0, 15 * 60, 3600, 30.5, -600, 86_400, 86_401, 200_000, *[1800] * 6])
    regarding = rng.choice(REGARDING)
    owner = rng.choice([None, None, "u1", "u2", "u-gone", ""])
    message_id = rng.choice([*[None] * 10, "<m1@x>", " <m2@x>", "<m3@x>\u2003", ""])
    return {
        "id": activity_id,
        "kind": rng.choice(KINDS),
        "owner_id": owner,
        "direction": rng.choice(DIRECTIONS),
        "status": rng.choice(STATUSES),
        "start_at": None if rng.random() < 0.05 else start,
        "end_at": None if rng.random() < 0.05 else start + timedelta(seconds=span),
        "regarding_type": regarding[0],
        "regarding_id": regarding[1],
        "conversation_id": rng.choice([None, "conv-1", "conv-2"]),
        "internet_message_id": message_id,
        "opens": rng.choice([*[0] * 10, 3, 10_000, 10_001, -1]),
        "clicks": rng.choice([0, 1, 7]),
        "modified_at": f.days_ago(rng.choice([1, 2])),
    }


def _party_row(rng: random.Random, activity_id: str, response: str | None) -> dict[str, Any]:
    record_type, record_id = rng.choice(REFERENCES)
    return {
        "activity_id": activity_id,
        "role": rng.choice(ROLES),
        "address": rng.choice(ADDRESSES),
        "record_type": record_type,
        "record_id": record_id,
        "response": response,
    }


def _stored(engine: Engine) -> dict[str, Any]:
    queries = {
        "interactions": "SELECT * FROM interaction ORDER BY key",
        "parties": "SELECT * FROM interaction_party"
        " ORDER BY interaction_key, record_type, record_id, role",
        "digests": "SELECT * FROM crm_activity_digest ORDER BY activity_id",
        "pending": "SELECT * FROM tick_pending_record ORDER BY record_type, record_id",
        "rechecks": "SELECT * FROM crm_activity_recheck ORDER BY activity_id",
    }
    with engine.connect() as connection:
        return {
            name: [dict(row) for row in connection.execute(sa.text(query)).mappings()]
            for name, query in queries.items()
        }


def _forget_the_ingest(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in (
            "interaction",
            "crm_activity_digest",
            "crm_activity_recheck",
            "tick_pending_record",
            "tick_state",
            "interaction_change",
        ):
            connection.execute(sa.text(f"DELETE FROM {table}"))


def _summary(report: CrmIngestReport) -> tuple[Any, ...]:
    problems = sorted((p.table, p.row_id, p.column, str(p.value)) for p in report.problems.examples)
    return (
        report.activities,
        report.covered_by_exchange,
        report.beyond_retention,
        report.counts,
        report.derived,
        report.problems.count,
        report.problems.by_column,
        problems,
    )


@POSTGRES_ONLY
@pytest.mark.parametrize("seed", [1, 2])
def test_sql_and_python_derive_the_same_first_ingest(engine: Engine, seed: int) -> None:
    _book(engine, random.Random(seed))
    cutoff = f.days_ago(730)

    python = ingest_crm_activities(engine, not_before=cutoff, now=f.NOW, bulk=False)
    by_python = _stored(engine)
    _forget_the_ingest(engine)
    sql = ingest_crm_activities(engine, not_before=cutoff, now=f.NOW)

    assert _stored(engine) == by_python
    assert _summary(sql) == _summary(python)
    dana = [
        (party["interaction_key"], party["response"])
        for party in by_python["parties"]
        if party["interaction_key"].startswith("crm:dup-") and party["record_id"] == "c1"
    ]
    assert dana == [
        ("crm:dup-0", "accepted"),
        ("crm:dup-1", "declined"),
        ("crm:dup-2", "declined"),
        ("crm:dup-3", "accepted"),
    ]
    assert python.counts.added > 80 and python.problems.count > 20  # the book is varied
    assert python.bulk == 0 and sql.bulk > 50


@POSTGRES_ONLY
def test_every_digest_the_sql_pass_keeps_is_the_one_python_computes(engine: Engine) -> None:
    _book(engine, random.Random(3))
    cutoff = f.days_ago(730)

    report = ingest_crm_activities(engine, not_before=cutoff, now=f.NOW)

    with session_scope(engine) as session:
        digester = Digester(
            load_directory(session=session),
            exchange_covered_users(session=session),
            cutoff,
            TimeWindow.around(f.NOW),
        )
        stored = load_digests(session=session)
        parties = parties_by_activity(session=session)
        activities = list(iter_activities(session=session, unreadable=[]))
    recomputed = {
        activity.id: digester.digest(activity, parties.get(activity.id, []))
        for activity in activities
        if activity.id in stored
    }
    assert recomputed == {key: digest.digest for key, digest in stored.items()}
    assert report.bulk > 50 and len(stored) > report.bulk  # Python kept digests too


def test_the_spaces_sql_strips_are_those_python_strips() -> None:
    every = "".join(map(chr, range(0x110000)))
    assert SPACES == "".join(filter(str.isspace, every))
