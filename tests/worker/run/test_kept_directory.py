"""The directory a worker keeps between ticks (storage.directory.kept_directory) is
built again when a record it reads changed, so the next tick matches by the new rows
(SQLite builds it every time; PostgreSQL keeps it while its tables hash the same)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.crm_tables import Contact, SystemUser
from storage.directory import kept_directory
from storage.types import core_table
from tests import factories as f
from worker.run.tick import run_once

NOW = f.NOW
CONTACT, USER = core_table(Contact), core_table(SystemUser)


def _parties(engine: Engine, activity_id: str) -> list[tuple[str, str]]:
    query = sa.text(
        "SELECT p.record_type, p.record_id FROM interaction_party AS p"
        " JOIN interaction AS i ON i.key = p.interaction_key"
        " WHERE i.crm_activity_id = :id ORDER BY 1, 2"
    )
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query, {"id": activity_id})]


def _readdress_contact(engine: Engine) -> None:
    with engine.begin() as connection:
        update = sa.update(CONTACT).where(CONTACT.c.id == "c1")
        connection.execute(update.values(email="dana.new@contoso.example"))


def _readdress_user(engine: Engine) -> None:
    with engine.begin() as connection:
        update = sa.update(USER).where(USER.c.id == "u2")
        connection.execute(update.values(email="bo.new@ours.example"))


@pytest.mark.parametrize(
    ("change", "party"),
    [(_readdress_contact, ("contact", "c1")), (_readdress_user, ("system_user", "u2"))],
    ids=["contact", "system_user"],
)
def test_a_record_readdressed_between_two_ticks_of_one_worker_is_matched_by_the_next(
    engine: Engine, change: Callable[[Engine], None], party: tuple[str, str]
) -> None:
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.user(engine, "u2", "bo@ours.example", "Bo Seller")
    f.account(engine, "a1", "Contoso", primary="c1")
    f.contact(engine, "c1", "dana@contoso.example", "Dana Ruiz", "a1")
    f.contact(engine, "c2", "lee@contoso.example", "Lee Park", "a1")
    # Names the new addresses, which nobody carries yet.
    activity = f.email(
        engine,
        sender="ana@ours.example",
        to=["lee@contoso.example", "dana.new@contoso.example"],
        cc=["bo.new@ours.example"],
        at=f.days_ago(2),
    )
    run_once(engine, now=NOW)
    assert party not in _parties(engine, activity)

    change(engine)
    run_once(engine, now=NOW)

    assert party in _parties(engine, activity)


def test_the_directory_is_kept_while_nothing_it_reads_changed(engine: Engine) -> None:
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.contact(engine, "c1", "dana@contoso.example", "Dana Ruiz")
    with Session(engine) as session:
        first = kept_directory(session=session)
        again = kept_directory(session=session)
    f.account(engine, "a1", "Contoso")  # not a table the directory reads
    with Session(engine) as session:
        unchanged = kept_directory(session=session)
    _readdress_contact(engine)
    with Session(engine) as session:
        readdressed = kept_directory(session=session)

    assert readdressed.match_address("dana.new@contoso.example") == ("contact", "c1")
    assert readdressed.match_address("dana@contoso.example") is None
    assert (again is first and unchanged is first) == (engine.dialect.name == "postgresql")
