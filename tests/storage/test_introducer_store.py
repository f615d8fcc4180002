"""Introducer rows: a run's set replaces the stored one, writing only the difference."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.engine import session_scope
from storage.introducer_store import (
    IntroducerCounts,
    IntroducerRow,
    delete_introducers,
    load_introducers,
    replace_introducers,
)
from tests import factories as f

NOW = f.NOW
LATER = NOW + timedelta(hours=1)


def _row(record_id: str, user_id: str, rank: int, strength: int) -> IntroducerRow:
    label = "strong" if strength >= 60 else "weak"
    return IntroducerRow("contact", record_id, user_id, rank, strength, label, f.days_ago(3))


def _computed_at(engine: Engine) -> dict[tuple[str, str], object]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT record_id, system_user_id, computed_at FROM introducer")
        )
        return {(record_id, user_id): at for record_id, user_id, at in rows}


def test_only_changed_rows_are_written(engine: Engine) -> None:
    first = [_row("c1", "u1", 1, 80), _row("c1", "u2", 2, 20), _row("c2", "u1", 1, 40)]
    with session_scope(engine) as session:
        assert replace_introducers(session=session, rows=first, now=NOW) == IntroducerCounts(
            added=3
        )
    second = [_row("c1", "u1", 1, 80), _row("c1", "u2", 2, 25), _row("c3", "u2", 1, 70)]
    with session_scope(engine) as session:
        counts = replace_introducers(session=session, rows=second, now=LATER)

    assert counts == IntroducerCounts(added=1, updated=1, removed=1, unchanged=1)
    stamped = _computed_at(engine)
    assert set(stamped) == {("c1", "u1"), ("c1", "u2"), ("c3", "u2")}
    assert stamped[("c1", "u1")] != stamped[("c1", "u2")]  # the unchanged row kept its time


def test_rows_read_back_strongest_first_with_the_colleagues_name_and_address(
    engine: Engine,
) -> None:
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.user(engine, "u2", "bo@ours.example", "Bo Colleague")
    with session_scope(engine) as session:
        replace_introducers(
            session=session, rows=[_row("c1", "u2", 2, 20), _row("c1", "u1", 1, 80)], now=NOW
        )
        shown = load_introducers(session=session, record_type="contact", record_id="c1")
        assert [(r["full_name"], r["email"], r["rank"]) for r in shown] == [
            ("Ana Seller", "ana@ours.example", 1),
            ("Bo Colleague", "bo@ours.example", 2),
        ]
        assert delete_introducers(session=session, system_user_ids=["u2"]) == 1
        assert delete_introducers(session=session) == 1


def test_a_partial_replace_rewrites_only_the_named_records_rows_that_changed(
    engine: Engine,
) -> None:
    first = [_row("c1", "u1", 1, 80), _row("c1", "u2", 2, 20), _row("c2", "u1", 1, 40)]
    with session_scope(engine) as session:
        replace_introducers(session=session, rows=first, now=NOW)
    # A tick ranked c1 (u2 gone, u1 unchanged) and c3 (new); c2 was not ranked.
    second = [_row("c1", "u1", 1, 80), _row("c3", "u2", 1, 70)]
    with session_scope(engine) as session:
        counts = replace_introducers(
            session=session,
            rows=second,
            now=LATER,
            records=[("contact", "c1"), ("contact", "c3"), ("lead", "c2")],
        )

    assert counts == IntroducerCounts(added=1, updated=0, removed=1, unchanged=1)
    stamped = _computed_at(engine)
    assert set(stamped) == {("c1", "u1"), ("c2", "u1"), ("c3", "u2")}
    # Neither the unchanged row nor the record left out was written again.
    assert stamped[("c1", "u1")] == stamped[("c2", "u1")] != stamped[("c3", "u2")]
