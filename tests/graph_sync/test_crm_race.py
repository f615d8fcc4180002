"""The CRM ingest and an Exchange page commit on another replica, racing for one email.

An email logged in the CRM and also seen in Exchange has one key (`msg:<id>`)
and must count once. On PostgreSQL the two writers run on separate replicas at
the same time: each holds its locks (storage.interaction_locks) until it
commits, so the second one waits and then sees what the first wrote. The
first writer here is a transaction held open by the test; the second is the
real code path, on its own connection in a thread. SQLite has one writer (one
worker): there the second path runs after the first commits, and the outcome
must be the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.bulk import insert_rows
from storage.crm_ingest import ingest_crm_activities
from storage.crm_tables import CrmActivity, CrmActivityParty
from storage.interaction_locks import lock_all_interactions, lock_interaction_keys
from storage.interaction_store import (
    INTERACTION,
    InteractionRecord,
    PartyRow,
    insert_interactions,
)
from storage.sync_store import PageWrite, commit_page
from storage.types import core_table
from tests import factories as f

pytestmark = pytest.mark.slow  # a large CRM ingest

T = TypeVar("T")
AT = datetime(2024, 5, 20, 9, tzinfo=UTC)
MESSAGE_ID = "<quote-42@fabrikam.com>"
KEY = f"msg:{MESSAGE_ID}"
# A backend of this database waiting for a lock of the given type.
WAITING = sa.text(
    "SELECT lock.pid FROM pg_locks AS lock JOIN pg_stat_activity AS backend USING (pid)"
    " WHERE lock.locktype = :type AND NOT lock.granted AND backend.datname = current_database()"
)
ADVISORY_HELD_BY = sa.text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = :pid"
)
ACTIVITY_COLUMNS = (
    "id",
    "kind",
    "owner_id",
    "direction",
    "status",
    "start_at",
    "end_at",
    "internet_message_id",
    "opens",
    "clicks",
)


def copy_from(source: str) -> InteractionRecord:
    parties = frozenset(
        {
            PartyRow("contact", "c-alex", "from", "external"),
            PartyRow("system_user", "u-adele", "to", "internal"),
        }
    )
    return InteractionRecord(KEY, source, "email", "inbound", AT, parties)


def page_with(record: InteractionRecord) -> PageWrite:
    return PageWrite(
        "mailbox-adele",
        "inbox",
        "mail",
        0,
        [("adele-item", record)],
        [],
        None,
        "https://graph.example/delta?$deltatoken=1",
        AT,
    )


def waiting_backend(engine: Engine, lock_type: str = "advisory", seconds: float = 60.0) -> int:
    """The backend that waits for a lock the first writer holds (fails if none starts waiting)."""
    deadline = time.monotonic() + seconds
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            pid = connection.execute(WAITING, {"type": lock_type}).scalar()
            if pid is not None:
                return int(pid)
            connection.rollback()  # pg_stat_activity is a snapshot taken once per transaction
            time.sleep(0.02)
    raise AssertionError(f"the second writer never waited for a {lock_type} lock")


def _second_waits(engine: Engine, second: Future[T], look: Callable[[Engine], object]) -> None:
    try:
        look(engine)
    except AssertionError:
        if second.done():
            second.result()  # the second writer failed: that error says more
        raise
    assert not second.done()


def race(
    engine: Engine,
    first: Callable[[Session], None],
    second: Callable[[], T],
    while_waiting: Callable[[Engine], None] | None = None,
) -> T:
    """`first` takes its locks and writes in an open transaction; then `second` runs.

    On PostgreSQL `second` starts while `first` is still open, and must wait for
    it (`while_waiting` looks at it then; by default: it waits for an advisory
    lock); on SQLite it runs after the commit.
    """
    postgres = engine.dialect.name == "postgresql"
    with ThreadPoolExecutor(max_workers=1) as pool:
        outcome: Future[T] | None = None
        with Session(engine) as session:
            first(session)
            if postgres:
                outcome = pool.submit(second)
                _second_waits(engine, outcome, while_waiting or waiting_backend)
            session.commit()
        if outcome is None:
            outcome = pool.submit(second)
        return outcome.result(timeout=120)


def sources(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        query = sa.text("SELECT key, source FROM interaction")
        return [(key, source) for key, source in connection.execute(query)]


def test_a_page_waits_for_a_crm_ingest_and_replaces_its_copy(engine: Engine) -> None:
    f.adele_and_alex(engine)

    def crm_ingest_in_flight(session: Session) -> None:
        lock_all_interactions(session)
        insert_interactions(session=session, records=[copy_from("crm")])

    page = page_with(copy_from("exchange"))
    counts = race(engine, crm_ingest_in_flight, lambda: commit_page(engine, page))

    assert (counts.added, counts.updated) == (0, 1)  # the CRM copy became the Exchange one
    assert sources(engine) == [(KEY, "exchange")]


def test_a_crm_ingest_waits_for_a_page_and_leaves_the_email_to_it(engine: Engine) -> None:
    f.adele_and_alex(engine)
    f.email(
        engine,
        sender="alex@fabrikam.com",
        to=["adele@contoso.com"],
        at=AT,
        owner="u-adele",
        internet_message_id=MESSAGE_ID,
    )

    def page_in_flight(session: Session) -> None:
        lock_interaction_keys(session, [KEY])
        insert_interactions(session=session, records=[copy_from("exchange")])

    report = race(engine, page_in_flight, lambda: ingest_crm_activities(engine))

    assert report.counts.added == 0
    assert sources(engine) == [(KEY, "exchange")]


def test_pages_of_two_mailboxes_do_not_wait_for_each_other(engine: Engine) -> None:
    f.adele_and_alex(engine)
    other = InteractionRecord(
        "msg:<other@fabrikam.com>",
        "exchange",
        "email",
        "inbound",
        AT,
        copy_from("exchange").parties,
    )
    if engine.dialect.name == "sqlite":
        # One writer at a time: there every page waits for the writer in flight
        # (tests/storage/test_writers_take_turns.py); PostgreSQL runs them in parallel.
        assert commit_page(engine, page_with(other)).added == 1
        return

    with Session(engine) as session:
        lock_interaction_keys(session, [KEY])
        # Another mailbox's page, other keys: it commits while the first is still open.
        counts = commit_page(engine, page_with(other))
        session.commit()

    assert counts.added == 1


def seed_logged_emails(engine: Engine, count: int) -> None:
    activities = [
        (
            f"act-{n}",
            "email",
            "u-adele",
            "incoming",
            "completed",
            AT + timedelta(minutes=n),
            AT + timedelta(minutes=n),
            f"<logged-{n}@fabrikam.com>",
            0,
            0,
        )
        for n in range(count)
    ]
    parties = [
        (activity[0], role, address)
        for activity in activities
        for role, address in (("from", "alex@fabrikam.com"), ("to", "adele@contoso.com"))
    ]
    with Session(engine) as session:
        insert_rows(session, core_table(CrmActivity), ACTIVITY_COLUMNS, activities)
        insert_rows(
            session, core_table(CrmActivityParty), ("activity_id", "role", "address"), parties
        )
        session.commit()


def lock_table_size(engine: Engine) -> int:
    names = ("max_locks_per_transaction", "max_connections", "max_prepared_transactions")
    with engine.connect() as connection:
        value = {
            name: int(connection.execute(sa.text(f"SHOW {name}")).scalar_one()) for name in names
        }
    return value[names[0]] * (value[names[1]] + value[names[2]])


@pytest.mark.timeout(300)
def test_a_crm_ingest_of_more_emails_than_the_lock_table_holds_takes_one_lock(
    engine: Engine,
) -> None:
    # Three times what the server's shared lock table holds (19,200 emails on a default
    # server): a lock per key could not be taken. SQLite takes no locks at all: a smaller
    # ingest shows the same outcome there.
    postgres = engine.dialect.name == "postgresql"
    emails = 3 * lock_table_size(engine) if postgres else 5_000
    f.adele_and_alex(engine)
    seed_logged_emails(engine, emails)
    assert ingest_crm_activities(engine).counts.added == emails
    # One email is corrected in the CRM: the next ingest rewrites its interaction.
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE crm_activity SET start_at = :at, end_at = :at WHERE id = 'act-7'"),
            {"at": AT - timedelta(days=1)},
        )
    held: list[int] = []

    def a_reader_holds_the_row(session: Session) -> None:
        # Keeps the ingest waiting after it took its locks, so they can be counted.
        row = sa.select(INTERACTION.c.key).where(INTERACTION.c.key == "msg:<logged-7@fabrikam.com>")
        session.execute(row.with_for_update())

    def count_its_locks(engine: Engine) -> None:
        pid = waiting_backend(engine, "transactionid")
        with engine.connect() as connection:
            held.append(connection.execute(ADVISORY_HELD_BY, {"pid": pid}).scalar_one())

    report = race(
        engine, a_reader_holds_the_row, lambda: ingest_crm_activities(engine), count_its_locks
    )

    assert (report.counts.updated, report.counts.unchanged) == (1, emails - 1)
    assert not report.problems
    if postgres:
        # A lock per key would need more entries than the table shared by the whole server has.
        assert lock_table_size(engine) < emails
        assert held == [1]


def test_keys_and_ids_with_copy_special_characters_round_trip(engine: Engine) -> None:
    # Graph's and the CRM's strings reach the COPY text format: tabs, newlines and
    # backslashes must come back exactly as they went in.
    f.adele_and_alex(engine)
    odd = "msg:<a\tb\\c\nd@fabrikam.com>"
    parties = frozenset({PartyRow("contact", "c-alex", "from", "external", None)})
    record = InteractionRecord(odd, "exchange", "email", "inbound", AT, parties, 2.5, "conv\\1")

    commit_page(engine, page_with(record))

    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT key, conversation_id FROM interaction")).one()
        party = connection.execute(sa.text("SELECT interaction_key FROM interaction_party")).one()
    assert tuple(row) == (odd, "conv\\1")
    assert party[0] == odd
