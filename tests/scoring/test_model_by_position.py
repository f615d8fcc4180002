"""scoring.model.by_position: the fast constructors make the very values the classes make."""

from __future__ import annotations

import pickle
from dataclasses import FrozenInstanceError, dataclass, fields
from datetime import UTC, datetime

import pytest

from scoring.model import (
    Factor,
    HealthState,
    Kpis,
    RecordHealth,
    RecordRef,
    RecordType,
    StakeholderRole,
    Trend,
    WeakestContact,
    by_position,
    new_factor,
    new_health,
    new_kpis,
    new_weakest,
)

PERSON = RecordRef(RecordType.CONTACT, "c1")
KPIS = (3, 4, 1, 0, 2, 1, 2, 3, 41.5, 12.0, 5.5, None, 0.5, None) + (
    datetime(2026, 11, 2, tzinfo=UTC),
    None,
    None,
    None,
    None,
    7,
    1,
    (),
    (("u1", 4),),
    "partial",
)
FACTOR = ("recency", 0.25, 0.4, 10.0, "last two-way contact 2026-11-02 (5 days ago)")
WEAKEST = (PERSON, "Priya Raman", StakeholderRole.CHAMPION, 38, None)


@pytest.mark.parametrize(
    ("cls", "build", "values"),
    [
        (Kpis, new_kpis, KPIS),
        (Factor, new_factor, FACTOR),
        (WeakestContact, new_weakest, WEAKEST),
        (
            RecordHealth,
            new_health,
            (
                PERSON,
                38,
                HealthState.POOR,
                Trend.DECLINING,
                Kpis(*KPIS),
                (Factor(*FACTOR),),
                ("x",),
                None,
            ),
        ),
    ],
)
def test_a_value_built_by_position_is_the_class_own(
    cls: type, build: object, values: tuple[object, ...]
) -> None:
    assert callable(build)
    made, own = build(*values), cls(*values)
    assert type(made) is cls
    assert made == own and hash(made) == hash(own) and repr(made) == repr(own)
    assert [getattr(made, f.name) for f in fields(cls)] == list(values)
    assert pickle.loads(pickle.dumps(made)) == own
    with pytest.raises(FrozenInstanceError):
        setattr(made, fields(cls)[1].name, 0)


def test_every_field_must_be_given() -> None:
    with pytest.raises(TypeError):
        new_factor("recency", 0.25)


def test_a_dataclass_without_slots_is_refused() -> None:
    @dataclass(frozen=True)
    class Loose:
        name: str

    with pytest.raises(TypeError, match="Loose: by_position needs a dataclass made with slots"):
        by_position(Loose)
