"""Persons read in one group and kept for the roll-ups of later groups (persons.py).

A run lists contacts before the deals and accounts that roll them up; each later
group reads the kept readings and silences instead of reading the person again.
The values must be the reference's; the later groups must leave the person out.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from scoring import score_records
from scoring.columnar import ColumnarRun, columns_of
from scoring.columnar.codes import cut_groups, group_codes, scope_codes
from scoring.columnar.columns import Ints
from scoring.columnar.indexed_book import book_setup
from scoring.columnar.persons import KeptPersons, PersonFigures
from scoring.model import Interaction, RecordRef, RecordScope, RecordType, ScoringSettings
from tests.scoring import factories as f
from tests.scoring.test_columnar_equivalence import (
    ROLLED,
    _several_people_waiting,
    all_differences,
)

BOOKS = {
    "several people waiting": _several_people_waiting,
    "primary goes silent": f.primary_goes_silent,
    "one good, two poor": f.one_good_two_poor,
}


def _records() -> list[RecordScope]:
    # Dana and Lee have their contact records first; Kim has none: the account reads
    # Kim as a person added to its group.
    return [f.contact_scope(person) for person in (f.DANA, f.LEE)] + ROLLED


@pytest.mark.parametrize("name", sorted(BOOKS))
@pytest.mark.parametrize("now", [f.NOW, f.days_ago(12), f.LATER], ids=["now", "before", "later"])
def test_people_kept_from_earlier_groups_roll_up_as_the_reference(name: str, now: datetime) -> None:
    book: list[Interaction] = BOOKS[name]()
    records = _records()
    expected = list(score_records(records, book, ScoringSettings(), now, f.NAMES))

    # One record a group: every roll-up reads its people from earlier groups.
    run = ColumnarRun(columns_of(book), ScoringSettings(), now, f.NAMES)
    actual = list(run.score(records, group_visits=1))

    assert all_differences(expected, actual) == {}


def test_a_silent_weakest_contact_is_quoted_from_the_kept_silence() -> None:
    """The weakest key contact's reason quotes their silence: kept, not read again."""
    records = _records()
    book = _several_people_waiting()
    expected = list(score_records(records, book, ScoringSettings(), f.NOW, f.NAMES))
    run = ColumnarRun(columns_of(book), ScoringSettings(), f.NOW, f.NAMES)

    actual = list(run.score(records, group_visits=1))

    assert all_differences(expected, actual) == {}
    quoted = [r for health in expected for r in health.reasons if "skipped" in r]
    assert quoted, "the scenario no longer quotes a silence"


def test_a_later_group_leaves_out_the_persons_kept() -> None:
    book = _several_people_waiting()
    columns = columns_of(book)
    setup = book_setup(columns)
    records = _records()
    codes = scope_codes(records, columns.refs, setup.tables)
    groups = list(cut_groups(codes, setup.index, 1))
    assert len(groups) == len(records)
    kept = KeptPersons(codes, groups)
    refs = columns.refs.refs

    def figures(index: Ints) -> PersonFigures:
        ones, times = np.ones(len(index), dtype=np.int64), np.ones(len(index))
        return PersonFigures(ones, ones, times, times, ones, times, ones, ones)

    read = []
    for number, (start, end) in enumerate(groups):
        group, slots = kept.left_out(group_codes(codes, start, end, refs))
        read.append((sorted(str(refs[code]) for code in group.record[group.scopes :]), len(slots)))
        kept.keep(number, start, group, figures)

    # Dana and Lee are read by their own contact groups; the deal (Dana, Lee) reads
    # both kept; the account (Dana, Lee, Kim) adds Kim only.
    deal, account = read[2], read[3]
    assert deal == ([], 2)
    assert account[1] == 2 and len(account[0]) == 1 and "kim" in account[0][0]


def test_the_scopes_kpis_count_their_threads_alone_before_the_persons_read() -> None:
    """A group's KPIs are made over its scopes' visits, the first ones; the persons a
    roll-up reads come after. Found by the small-groups property: the scopes' threads
    were cut where the persons' visits begin as if visits were records, and the last
    deals of a group lost their thread counts (response rate, accuracy)."""
    book = [f.email(f.days_ago(3), inbound=True)]
    # Three scopes without visits, then three deals reading Dana, who has no record.
    records = [f.contact_scope(person) for person in (f.LEE, f.KIM, f.LEAD_ROBIN)] + [
        RecordScope(
            RecordRef(RecordType.OPPORTUNITY, f"deal-{n}"), f"Deal {n}", frozenset({f.DANA})
        )
        for n in range(3)
    ]
    expected = list(score_records(records, book, ScoringSettings(), f.NOW, f.NAMES))

    actual = list(ColumnarRun(columns_of(book), ScoringSettings(), f.NOW, f.NAMES).score(records))

    assert all_differences(expected, actual) == {}
    assert [health.kpis.response_rate_by_us for health in actual[3:]] == [0.0] * 3
