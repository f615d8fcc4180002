"""Read from the store, the columnar core scores exactly as the run's reference path does.

The reference path is the run's: worker.run.interactions.load_interactions, then
scoring.ScoringRun. The core reads the same rows as columns (in small chunks
here, so a book spans several) and must give the same results, on SQLite and
on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

import hypothesis
import pytest
import sqlalchemy as sa
from hypothesis import given
from sqlalchemy.engine import Engine

from scoring import score_records
from scoring.columnar import score_columns
from scoring.model import Interaction, RecordRef, RecordScope, RecordType, ScoringSettings
from storage.engine import session_scope
from storage.interaction_store import InteractionRecord, PartyRow, insert_interactions
from tests.scoring import factories as f
from tests.scoring.test_columnar_equivalence import (
    NAMES,
    ROLLED,
    all_differences,
    interactions,
    moments,
    scopes,
    settings,
)
from worker.run.interaction_columns import read_columns
from worker.run.interactions import load_interactions

ODD = RecordRef(RecordType.CONTACT, "c\x1eodd\x1fid")  # the packed column's separators


def _record(interaction: Interaction) -> InteractionRecord:
    parties = [
        PartyRow(p.ref.type.value, p.ref.id, p.role.value, side, p.response and p.response.value)
        for side, group in (("internal", interaction.internal), ("external", interaction.external))
        for p in group
    ]
    regarding = interaction.regarding
    return InteractionRecord(
        key=interaction.key,
        source="crm",
        kind=interaction.kind.value,
        direction=interaction.direction.value,
        occurred_at=interaction.occurred_at,
        parties=frozenset(parties),
        duration_minutes=interaction.duration_minutes,
        conversation_id=interaction.conversation_id,
        regarding_type=regarding.type.value if regarding else None,
        regarding_id=regarding.id if regarding else None,
        planned=interaction.planned,
        opens=interaction.opens,
        clicks=interaction.clicks,
    )


def _store(engine: Engine, book: list[Interaction]) -> None:
    with session_scope(engine) as session:
        session.execute(sa.text("DELETE FROM interaction_party"))
        session.execute(sa.text("DELETE FROM interaction"))
        # One row per key, as the store keeps them (a random book may repeat a key).
        unique = {interaction.key: interaction for interaction in book}
        insert_interactions(session=session, records=[_record(i) for i in unique.values()])


def _both(
    engine: Engine,
    records: list[RecordScope],
    chosen: ScoringSettings,
    now: datetime,
    names: dict[RecordRef, str],
) -> dict[RecordRef, list[str]]:
    expected = list(score_records(records, load_interactions(engine), chosen, now, names))
    actual = list(score_columns(read_columns(engine, chunk=7), records, chosen, now, names))
    # As an incremental tick reads: only what reaches the records and their people.
    needed = {ref for scope in records for ref in (scope.record, *scope.people)}
    within = read_columns(engine, chunk=7, refs=needed)
    narrowed = list(score_columns(within, records, chosen, now, names))
    return all_differences(expected, actual) | all_differences(expected, narrowed)


def test_a_read_within_some_records_reads_only_what_reaches_them(engine: Engine) -> None:
    _store(engine, [*f.one_good_two_poor(), *f.calls_only(ODD), *f.their_meetings_only(f.KIM)])
    everything = read_columns(engine)

    within = read_columns(engine, refs={ODD, f.CONTOSO})

    kept = [within.interaction(position) for position in range(len(within))]
    assert 0 < len(kept) < len(everything)
    assert all(ODD in {party.ref for party in i.external} or i.regarding == f.CONTOSO for i in kept)
    reaching = [
        everything.interaction(position)
        for position in range(len(everything))
        if ODD in {p.ref for p in everything.interaction(position).external}
        or everything.interaction(position).regarding == f.CONTOSO
    ]
    assert kept == reaching


def test_stored_scenarios_score_the_same(engine: Engine) -> None:
    book = [
        *f.primary_goes_silent(),
        *f.one_good_two_poor(),
        *f.copied_on_a_colleagues_emails(),
        *f.calls_only(ODD),
        *f.their_meetings_only(f.KIM),
    ]
    _store(engine, book)
    records = [
        *(f.contact_scope(person) for person in (f.DANA, f.LEE, f.KIM)),
        RecordScope(ODD, "Odd", frozenset({ODD})),
        *ROLLED,
    ]

    for now in (f.NOW, f.LATER):
        assert _both(engine, records, ScoringSettings(), now, f.NAMES) == {}


@hypothesis.settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[
        hypothesis.HealthCheck.too_slow,
        hypothesis.HealthCheck.function_scoped_fixture,
    ],
)
@given(book=interactions(), records=scopes(), chosen=settings(), now=moments)
def test_stored_random_books_score_the_same(
    engine: Engine,
    book: list[Interaction],
    records: list[RecordScope],
    chosen: ScoringSettings,
    now: datetime,
) -> None:
    _store(engine, book)

    assert _both(engine, records, chosen, now, NAMES) == {}


def test_a_stored_kind_or_direction_the_model_does_not_know_is_named(engine: Engine) -> None:
    _store(engine, f.one_good_two_poor())
    key = read_columns(engine).interaction(0).key
    with session_scope(engine) as session:
        session.execute(
            sa.text("UPDATE interaction SET kind = 'fax' WHERE key = :key"), {"key": key}
        )

    with pytest.raises(ValueError, match="interaction kind must be one of .*'fax'"):
        read_columns(engine, chunk=7)

    with session_scope(engine) as session:
        session.execute(sa.text("UPDATE interaction SET kind = 'email', direction = 'sideways'"))
    with pytest.raises(ValueError, match="interaction direction must be one of .*'sideways'"):
        read_columns(engine, chunk=7)


def test_a_book_bigger_than_a_block_reads_as_one(engine: Engine) -> None:
    book = [*f.one_good_two_poor(), *f.calls_only(ODD), *f.their_meetings_only(f.KIM)]
    _store(engine, book)

    whole, blocks = read_columns(engine), read_columns(engine, chunk=3)

    assert len(whole) > 3
    assert [whole.interaction(k) for k in range(len(whole))] == [
        blocks.interaction(k) for k in range(len(blocks))
    ]
