"""A pass that reads every activity empties the activity change log unread.

The first pass on PostgreSQL truncates it (a first load logs a million ids):
a CRM writer meanwhile waits for the pass to commit and is logged after it,
so the next pass still reads its change. A later full pass deletes the log's
rows and holds no writer back.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.engine import session_scope
from storage.tick_changes import Deletes, forget_activity_changes, write_state
from tests import factories as f
from tests.factories import POSTGRES_ONLY

ANA, DANA = "ana@ours.example", "dana@contoso.example"


def _logged(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT activity_id FROM crm_activity_change"))
        return set(rows.scalars())


def _write_during_forget(engine: Engine, wait: float) -> tuple[bool, set[str]]:
    """Forget the log in a transaction while a CRM writer logs `late`: whether the
    writer had committed within `wait` seconds, before the transaction ended, and what
    the log holds after."""
    committed = threading.Event()

    def writer() -> None:
        f.email(engine, sender=ANA, to=[DANA], at=f.days_ago(1), activity_id="late")
        committed.set()

    with session_scope(engine) as session:
        forget_activity_changes(session, Deletes())
        thread = threading.Thread(target=writer)
        thread.start()
        committed.wait(timeout=wait)
        before_commit = committed.is_set()
    thread.join(timeout=30)
    assert committed.is_set()
    return before_commit, _logged(engine)


@POSTGRES_ONLY
def test_a_writer_during_the_first_pass_waits_and_stays_logged(engine: Engine) -> None:
    f.user(engine, "u1", ANA, "Ana Seller")
    f.email(engine, sender=ANA, to=[DANA], at=f.days_ago(2), activity_id="early")
    assert _logged(engine) == {"early"}

    before_commit, logged = _write_during_forget(engine, wait=2)

    assert not before_commit  # held back by the truncated log until the pass committed
    assert logged == {"late"}


@POSTGRES_ONLY
def test_a_later_full_pass_holds_no_writer_back(engine: Engine) -> None:
    f.user(engine, "u1", ANA, "Ana Seller")
    f.email(engine, sender=ANA, to=[DANA], at=f.days_ago(2), activity_id="early")
    with session_scope(engine) as session:
        write_state(session, crm_context="after a first pass")

    before_commit, logged = _write_during_forget(engine, wait=30)

    assert before_commit
    assert logged == {"late"}
