"""Two writers of one interaction key on one store take turns, SQLite included.

A worker's sync round and a `rapport run --once` beside it (which
docs/deploy.md allows on SQLite) commit the same Exchange pages. On SQLite a
transaction used to become the writer only at its first insert, after
reading what was stored: both found the email absent and the second failed
with `UNIQUE constraint failed: interaction.key` (or `sync_cursor`), failing
its mailbox. The
first writer here is a transaction held open by the test; the second is the
real page commit, on its own connection in a thread.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.interaction_locks import become_sqlite_writer, lock_interaction_keys
from storage.interaction_store import insert_interactions
from storage.sync_store import CURSOR, commit_page
from tests import factories as f
from tests.graph_sync.test_crm_race import KEY, copy_from, page_with, sources, waiting_backend


def test_a_page_commit_waits_for_another_writer_of_its_email_and_then_updates_it(
    engine: Engine,
) -> None:
    f.adele_and_alex(engine)
    with ThreadPoolExecutor(max_workers=1) as pool, Session(engine) as first:
        lock_interaction_keys(first, [KEY])
        insert_interactions(session=first, records=[copy_from("exchange")])
        second = pool.submit(commit_page, engine, page_with(copy_from("exchange")))
        if engine.dialect.name == "postgresql":
            waiting_backend(engine)
        else:
            time.sleep(0.5)  # it waits in SQLite's busy handler, which shows nowhere
        assert not second.done(), second.result()
        first.commit()
        counts = second.result(timeout=60)
    assert (counts.added, counts.updated) == (0, 0)
    assert sources(engine) == [(KEY, "exchange")]


def test_a_page_commit_waits_for_another_writer_of_its_folder_and_then_moves_its_cursor(
    engine: Engine,
) -> None:
    f.adele_and_alex(engine)
    page = page_with(copy_from("exchange"))
    with ThreadPoolExecutor(max_workers=1) as pool, Session(engine) as first:
        # The same folder's first page, committed by the other run (the worker's round).
        become_sqlite_writer(first)
        first.execute(
            sa.insert(CURSOR).values(
                mailbox_id=page.mailbox_id,
                folder_id=page.folder_id,
                kind="mail",
                next_link="https://graph.example/delta?$skiptoken=1",
                updated_at=page.at,
            )
        )
        second = pool.submit(commit_page, engine, page)
        if engine.dialect.name == "postgresql":
            waiting_backend(engine, "transactionid")
        else:
            time.sleep(0.5)  # it waits in SQLite's busy handler, which shows nowhere
        assert not second.done(), second.result()
        first.commit()
        assert second.result(timeout=60).added == 1
    with engine.connect() as connection:
        cursors = connection.execute(sa.select(CURSOR.c.delta_link, CURSOR.c.next_link)).all()
    assert cursors == [(page.delta_link, None)]
