"""One delta page committed: few round trips, any ids, the cursor moved forward with it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.engine import session_scope
from storage.interaction_store import (
    INTERACTION,
    InteractionRecord,
    PartyRow,
    insert_interactions,
    keyed_rows,
)
from storage.sync_store import PageWrite, commit_page, load_cursors
from tests import factories as f
from tests.factories import POSTGRES_ONLY

# What only PostgreSQL has: a planner, round trips.
AT = datetime(2024, 5, 20, 9, tzinfo=UTC)
MAILBOX = "mailbox-adele"
# What an array literal must survive: quotes, backslashes, separators, braces, a bare NULL.
AWKWARD = ('q"uote', "back\\slash", "com,ma", "{brace}", "NULL", "sp ace", "")


def email(message_id: str) -> InteractionRecord:
    parties = frozenset(
        {
            PartyRow("contact", "c-alex", "from", "external"),
            PartyRow("system_user", "u-adele", "to", "internal"),
        }
    )
    return InteractionRecord(f"msg:<{message_id}>", "exchange", "email", "inbound", AT, parties)


def page(
    seen: list[tuple[str, InteractionRecord]],
    gone: list[str],
    next_link: str | None,
    delta_link: str | None,
) -> PageWrite:
    return PageWrite(MAILBOX, "inbox", "mail", 0, seen, gone, next_link, delta_link, AT)


def sightings(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT item_id, interaction_key FROM interaction_sighting")
        )
        return dict(rows.all())


def interaction_keys(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(sa.text("SELECT key FROM interaction")).scalars())


@contextmanager
def statements_counted(engine: Engine) -> Iterator[list[str]]:
    """Statements sent through the engine (COPY streams go around it and are not counted)."""
    sent: list[str] = []

    def count(*args: object) -> None:
        sent.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_awkward_item_ids_and_message_ids_are_stored_and_removed_exactly(engine: Engine) -> None:
    f.adele_and_alex(engine)
    seen = [(f"item-{text}", email(f"id-{text}")) for text in AWKWARD]

    commit_page(engine, page(seen, [], "https://graph.example/next", None))

    assert sightings(engine) == {item: record.key for item, record in seen}
    assert interaction_keys(engine) == {record.key for _, record in seen}

    gone = [item for item, _ in seen[:4]]
    counts = commit_page(engine, page([], gone, None, "https://graph.example/delta"))

    assert counts.removed == 4
    assert sightings(engine) == {item: record.key for item, record in seen[4:]}
    assert interaction_keys(engine) == {record.key for _, record in seen[4:]}


def test_the_cursor_is_created_then_moved_forward_and_stays_complete(engine: Engine) -> None:
    f.adele_and_alex(engine)

    commit_page(engine, page([("item-1", email("one"))], [], "https://graph.example/next", None))
    with session_scope(engine) as session:
        first = load_cursors(session=session, mailbox_id=MAILBOX)["inbox"]
    commit_page(engine, page([("item-2", email("two"))], [], None, "https://graph.example/d1"))
    commit_page(engine, page([], ["item-9"], None, "https://graph.example/d2"))
    with session_scope(engine) as session:
        last = load_cursors(session=session, mailbox_id=MAILBOX)["inbox"]

    assert (first.next_link, first.delta_link, first.baseline_complete, first.kind) == (
        "https://graph.example/next",
        None,
        False,
        "mail",
    )
    assert (last.next_link, last.delta_link, last.baseline_complete, last.round) == (
        None,
        "https://graph.example/d2",
        True,
        0,
    )
    assert last.updated_at == AT


@POSTGRES_ONLY
def test_a_page_costs_four_statements_besides_its_copy_streams(engine: Engine) -> None:
    """Cursor state with the removals, key locks, stored rows, sightings with the cursor.

    On SQLite a statement is a function call, not a round trip: only PostgreSQL counts.
    """
    f.adele_and_alex(engine)
    commit_page(engine, page([("item-1", email("one"))], [], "https://graph.example/n1", None))
    seen = [(f"item-{n}", email(f"m{n}")) for n in range(2, 40)]

    with statements_counted(engine) as sent:
        commit_page(engine, page(seen, ["item-never-seen"], "https://graph.example/n2", None))

    ping = [statement for statement in sent if statement.strip().upper() == "SELECT 1"]
    assert len(sent) - len(ping) == 4, sent


@contextmanager
def statistics_lagging(engine: Engine) -> Iterator[None]:
    """The interaction table as a backfill finds it: empty when last analyzed, its
    statistics left as they are while the block grows it (autovacuum off for the
    table, on again after), whatever earlier tests and autovacuum left behind."""
    with engine.begin() as connection:
        connection.execute(sa.text("TRUNCATE interaction CASCADE"))  # no earlier pages
        connection.execute(sa.text("ALTER TABLE interaction SET (autovacuum_enabled = off)"))
        connection.execute(sa.text("ANALYZE interaction"))
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE interaction RESET (autovacuum_enabled)"))


def _analyzed_rows(engine: Engine) -> float:
    with engine.connect() as connection:
        query = "SELECT reltuples FROM pg_class WHERE relname = 'interaction'"
        return float(connection.execute(sa.text(query)).scalar_one())


@POSTGRES_ONLY
def test_stored_rows_are_looked_up_by_index_while_statistics_lag(engine: Engine) -> None:
    """A backfill grows the table faster than autovacuum analyzes it: the lookup of a
    page's stored rows must not become a scan of the whole table on every page."""
    with statistics_lagging(engine):
        with session_scope(engine) as session:
            insert_interactions(session=session, records=[email(f"old-{n}") for n in range(20_000)])
        keys = [email(f"old-{n}").key for n in range(0, 20_000, 80)]

        with session_scope(engine) as session:
            query = keyed_rows(session, list(INTERACTION.c), INTERACTION.c.key, keys)
            compiled = query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
            plan = "\n".join(session.execute(sa.text(f"EXPLAIN {compiled}")).scalars())
        lagging = _analyzed_rows(engine)

    assert lagging == 0  # planned while the statistics still said the table was empty
    # Through the primary key (an index scan; a bitmap index scan is as good), never a
    # full scan.
    assert re.search(r"Index Scan (using|on) interaction_pkey", plan), plan
    assert "Seq Scan on interaction" not in plan, plan
