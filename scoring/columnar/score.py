"""The columnar scoring run: records scored a group at a time.

`ColumnarRun(columns, settings, now, names).score(scopes)` gives exactly what
`scoring.ScoringRun(interactions, settings, now, names).score(scopes)` gives
(docs/scoring.md, "How it runs fast"). The run indexes the book once; each
group of records then finds its visits (visits.py), makes its figures
(tally.py) and is scored by group.py, which works out what every record needs
at once and leaves per record only what is truly per record.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime

import numpy as np

from scoring.columnar.columns import InteractionColumns
from scoring.columnar.group import GroupScorer, RunInputs
from scoring.columnar.tally import tally_book
from scoring.columnar.visits import build_visits, index_book, set_tables
from scoring.factors import channel_points
from scoring.health import check_grading
from scoring.model import RecordHealth, RecordRef, RecordScope, ScoringSettings
from scoring.pipeline import failed
from scoring.prepared import ScoringTime, influence_weights
from scoring.rollup import is_rolled_up, person_scope

# Visits (record x interaction) per group of records scored together: about
# 70 MB of per-visit arrays at the tally's peak (tally.py), whatever the book;
# smaller groups read more people twice (a deal's people in another group).
GROUP_VISITS = 400_000


def score_columns(
    columns: InteractionColumns,
    scopes: Iterable[RecordScope],
    settings: ScoringSettings,
    now: datetime,
    names: Mapping[RecordRef, str],
) -> Iterator[RecordHealth]:
    """scoring.score_records over a book read as columns (same results, same order)."""
    return ColumnarRun(columns, settings, now, names).score(scopes)


class ColumnarRun:
    """One run over a book of columns; `score` may be called for any list of records."""

    def __init__(
        self,
        columns: InteractionColumns,
        settings: ScoringSettings,
        now: datetime,
        names: Mapping[RecordRef, str],
    ) -> None:
        check_grading(settings)
        self.settings = settings
        self.weights = influence_weights(settings)
        self.points = channel_points(self.weights)
        self.time = ScoringTime.at(now)
        self.columns = columns
        self.names = names
        self.tables = set_tables(columns)
        self.index = index_book(columns, self.tables)
        self.inputs = RunInputs(columns, self.tables, settings, self.points, self.time, names)

    def score(
        self, scopes: Iterable[RecordScope], group_visits: int = GROUP_VISITS
    ) -> Iterator[RecordHealth]:
        """Each record's health, in the order of `scopes`. Records are scored a group
        at a time, each group about `group_visits` (record, interaction) visits, so
        that the per-visit arrays stay the size of a group, not of the book."""
        for group in self.groups(list(scopes), group_visits):
            records, people = _with_people(group)
            visits = build_visits(self.columns, self.tables, records, self.index)
            book = tally_book(
                self.columns, self.tables, visits, len(records), self.weights, self.time
            )
            scorer = GroupScorer(group, people, book, self.inputs)
            del visits, book
            for index, scope in enumerate(group):
                try:
                    health = scorer.score(index, scope)
                except Exception as error:  # one record's failure must not stop the book
                    health = failed(scope.record, error)
                yield health
            del scorer

    def groups(self, scopes: list[RecordScope], group_visits: int) -> Iterator[list[RecordScope]]:
        """Consecutive scopes, cut where the visits they will read pass `group_visits`
        (counted from the book's index: a deal's or account's people count once
        more, as the group reads them as persons when their contacts are elsewhere)."""
        index, code = self.index, self.columns.refs.codes.get
        size = len(self.columns.refs.refs)
        by_person = np.bincount(index.person, minlength=size).tolist()
        by_regarding = np.bincount(index.regarding, minlength=size).tolist()
        group: list[RecordScope] = []
        visits = 0

        def count(counts: list[int], ref: RecordRef) -> int:
            found = code(ref)  # a ref first coded after the count reaches nothing
            return counts[found] if found is not None and found < size else 0

        for scope in scopes:
            reach = sum(count(by_person, person) for person in scope.people)
            reach = reach * (2 if is_rolled_up(scope) else 1)
            reach += count(by_regarding, scope.record)
            if group and visits + reach > group_visits:
                yield group
                group, visits = [], 0
            group.append(scope)
            visits += reach
        if group or not scopes:
            yield group


def _with_people(scopes: list[RecordScope]) -> tuple[list[RecordScope], dict[RecordRef, int]]:
    """The scopes plus a person scope for each person a deal or account rolls up
    whose own contact scope is not among them; person -> index of their scope."""
    records = list(scopes)
    people: dict[RecordRef, int] = {}
    for index, scope in enumerate(scopes):
        if scope.team is None and scope.people == {scope.record}:
            people.setdefault(scope.record, index)
    for scope in scopes:
        if is_rolled_up(scope):
            for person in sorted(scope.people):
                if person not in people:
                    people[person] = len(records)
                    records.append(person_scope(person))
    return records, people
