"""The columnar scoring run: records scored a group at a time.

`ColumnarRun(columns, settings, now, names).score(scopes)` gives exactly what
`scoring.ScoringRun(interactions, settings, now, names).score(scopes)` gives
(docs/scoring.md, "How it runs fast"). The run indexes the book once (or is
handed the index kept with the book: indexed_book.py) and codes every scope once
(codes.py); each group of records then finds its visits
(visits.py), makes its figures (tally.py) and is scored by group.py, which
works out what every record needs at once and leaves per record only what is
truly per record.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime

from scoring.columnar.codes import cut_groups, group_codes, scope_codes
from scoring.columnar.columns import InteractionColumns
from scoring.columnar.group import GroupScorer, RunInputs
from scoring.columnar.indexed_book import BookSetup, book_setup
from scoring.columnar.persons import KeptPersons
from scoring.columnar.tally import tally_book
from scoring.columnar.visits import GroupCodes, build_visits
from scoring.factors import channel_points
from scoring.health import check_grading
from scoring.model import RecordHealth, RecordRef, RecordScope, ScoringSettings
from scoring.pipeline import failed
from scoring.prepared import ScoringTime, influence_weights
from scoring.rollup import person_scope

# Visits (record x interaction) per group of records scored together: about
# 9 MB of per-visit arrays at the tally's peak (tally.py), whatever the book. A
# person a later group rolls up is kept, not read again (persons.py), so small
# groups cost little more. At 1M interactions (one process, alternating runs)
# 50,000 scored the 1 % tick's 9,308 records in 1.3-1.4 s CPU against 1.5-1.9 s
# with 200,000 and the regrade in the same time (2.5-3.1 s), its peak ~10 MB
# lower: fewer arrays are large enough to be mapped afresh and faulted in page by
# page (worker.run.malloc_tuning). 15,000 took more CPU (per-group work).
GROUP_VISITS = 50_000


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
    """One run over a book of columns; `score` may be called for any list of records.
    `setup`: the book's tables and index when they are kept with it (indexed_book.py),
    else they are built here."""

    def __init__(
        self,
        columns: InteractionColumns,
        settings: ScoringSettings,
        now: datetime,
        names: Mapping[RecordRef, str],
        setup: BookSetup | None = None,
    ) -> None:
        check_grading(settings)
        self.settings = settings
        self.weights = influence_weights(settings)
        self.points = channel_points(self.weights)
        self.time = ScoringTime.at(now)
        self.columns = columns
        self.names = names
        setup = book_setup(columns) if setup is None else setup
        self.tables, self.index, self.tracked = setup.tables, setup.index, setup.tracked
        self.inputs = RunInputs(columns, self.tables, settings, self.points, self.time, names)

    def score(
        self, scopes: Iterable[RecordScope], group_visits: int = GROUP_VISITS
    ) -> Iterator[RecordHealth]:
        """Each record's health, in the order of `scopes`. Records are scored a group
        at a time, each group about `group_visits` (record, interaction) visits, so
        that the per-visit arrays stay the size of a group, not of the book."""
        scopes = list(scopes)
        refs = self.columns.refs
        codes = scope_codes(scopes, refs, self.tables)
        groups = list(cut_groups(codes, self.index, group_visits))
        # What a group reads of a person a later group rolls up is kept (persons.py),
        # unless a person may reach a broken interaction, which must raise when read.
        kept = None if self.columns.broken else KeptPersons(codes, groups)
        for number, (start, end) in enumerate(groups):
            group = scopes[start:end]
            records = group_codes(codes, start, end, refs.refs)
            if kept is not None:
                records, read_before = kept.left_out(records)
            visits = build_visits(
                self.columns, self.tables, records, self.index, self._broken_reach(group, records)
            )
            book = tally_book(
                self.columns,
                self.tables,
                visits,
                len(records.record),
                self.weights,
                self.time,
                self.tracked,
            )
            scorer = GroupScorer(group, records, book, self.inputs)
            del visits, book
            if kept is not None:
                scorer.views = kept.views(read_before, refs.refs, scorer.views)
                kept.keep(number, start, records, scorer.person_figures)
            for index, scope in enumerate(group):
                try:
                    health = scorer.score(index, scope)
                except Exception as error:  # one record's failure must not stop the book
                    health = failed(scope.record, error)
                yield health
            del scorer

    def _broken_reach(self, group: list[RecordScope], records: GroupCodes) -> list[RecordScope]:
        """The group's records as scopes, to find which reach a broken interaction
        (none to look at when the book has none)."""
        if not self.columns.broken:
            return []
        return [*group, *map(person_scope, records.persons_added(self.columns.refs.refs))]
