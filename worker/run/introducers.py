"""The who-knows-whom step of a pipeline tick: rank introducers, store the difference.

A pipeline run reads what ranking needs besides the interactions (settings,
the CRM's people, the exclusions) once, as an `IntroducerRanking`, before it
scores. Each scoring process then ranks the introducers of its own share's
contacts and leads from the book's columns it scored from, over the columns
themselves (scoring.columnar.introducers.rank_columns): a ranking is per
person, so the shares' rankings together are the whole book's.
The run stores them at the end with `store_introducers`, in one transaction
that reads the exclusions again: a colleague who opted out while the run was
scoring is never written.

An incremental tick ranks only the contacts and leads its changes touched
(`IntroducerRanking.within`) and replaces only their rows: a person's
introducers rest on nothing but the interactions they are a party to, the
colleagues, the exclusions, the settings and `now`, and a change to any of
the others regrades every record (worker.run.tick), so the rows match what a
regrade at that `now` ranks. A person who left the book since the last tick
(a lead no longer open) loses their rows (`forgetting`), as at a regrade.

With the admin switch `switch.who_knows_whom` off nothing is computed and
every stored row goes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from scoring import Interaction, RecordRef, RecordType, ScoringSettings, rank_introducers
from scoring.columnar.columns import InteractionColumns, moment
from scoring.columnar.introducers import Ranked, rank_columns
from scoring.columnar.visits import BookIndex, SetTables
from scoring.introducers import Introducer, strength_label
from storage.crm_records import CrmSnapshot
from storage.engine import session_scope
from storage.introducer_optout_read import excluded_colleagues
from storage.introducer_store import (
    IntroducerCounts,
    IntroducerRow,
    delete_introducers,
    replace_introducers,
)
from worker.admin_settings import INTRODUCERS_SWITCH, current_settings, scoring_settings
from worker.log import get_logger
from worker.run.interaction_columns import read_columns

log = get_logger(__name__)

SWITCH = INTRODUCERS_SWITCH
# Each strength's stored label, by strength (0-100).
_LABELS = [strength_label(strength).value for strength in range(101)]
_TYPES = {record_type: record_type.value for record_type in RecordType}


@dataclass
class IntroducerSummary:
    enabled: bool
    records: int = 0  # contacts and leads with at least one introducer
    written: IntroducerCounts = field(default_factory=IntroducerCounts)


@dataclass(frozen=True)
class IntroducerRanking:
    """Everything ranking needs besides the interactions, as of one run."""

    settings: ScoringSettings
    now: datetime
    records: frozenset[RecordRef]  # every contact and open lead
    colleagues: frozenset[str]
    excluded: frozenset[str]
    configured_exclusions: tuple[str, ...]  # RAPPORT_EXCLUDED_USERS
    partial: bool = False  # `records` are some of the book's: only theirs are stored
    # People no longer ranked (a lead that closed): their rows go in a partial store.
    forgotten: frozenset[RecordRef] = frozenset()

    def within(self, records: Collection[RecordRef]) -> IntroducerRanking:
        """The ranking of these records only (those that are contacts or open leads)."""
        return replace(self, records=self.records.intersection(records), partial=True)

    def forgetting(self, people: Collection[RecordRef]) -> IntroducerRanking:
        """This ranking, storing no row for those of `people` it does not rank."""
        return replace(self, forgotten=frozenset(people) - self.records)

    def rows(self, interactions: Iterable[Interaction]) -> list[IntroducerRow]:
        """The introducer rows of the records, ranked over interaction objects (the
        reference path; a run ranks with `columnar_rows`)."""
        ranked = rank_introducers(
            interactions,
            self.settings,
            self.now,
            records=self.records,
            colleagues=self.colleagues,
            excluded=self.excluded,
        )
        return _rows(ranked.values())

    def columnar_rows(
        self,
        columns: InteractionColumns,
        index: BookIndex | None = None,
        tables: SetTables | None = None,
    ) -> list[IntroducerRow]:
        """`rows` over a book read as columns, ranked over the columns themselves
        (scoring.columnar.introducers.rank_columns: no interaction is built).
        `index`, `tables`: the scoring run's index of the book and its party sets'
        tables; with them, a ranking of some records reads only their interactions."""
        ranked = rank_columns(
            columns,
            self.settings,
            self.now,
            records=self.records,
            colleagues=self.colleagues,
            excluded=self.excluded,
            index=index,
            tables=tables,
        )
        return _ranked_rows(ranked)


def introducer_ranking(
    engine: Engine,
    *,
    now: datetime,
    excluded_users: Iterable[str] = (),
    crm: CrmSnapshot,
    admin: Mapping[str, Any],
    excluded: frozenset[str] | None = None,
) -> IntroducerRanking | None:
    """What this run ranks with under the run's admin settings; None when the switch is off.

    `excluded`: the colleagues kept out (storage.introducer_optout_read.excluded_colleagues
    of `excluded_users` at `now`), when the caller has read them already.
    """
    if not admin[SWITCH]:
        return None
    configured = tuple(excluded_users)
    if excluded is None:
        with session_scope(engine) as session:
            excluded = excluded_colleagues(session=session, configured=configured, now=now)
    records = {RecordRef(RecordType.CONTACT, c.id) for c in crm.contacts}
    records |= {RecordRef(RecordType.LEAD, lead.id) for lead in crm.open_leads}
    return IntroducerRanking(
        scoring_settings(admin),
        now,
        frozenset(records),
        frozenset(user.id for user in crm.users),
        excluded,
        configured,
    )


def store_introducers(
    engine: Engine, ranking: IntroducerRanking | None, rows: list[IntroducerRow]
) -> IntroducerSummary:
    """Make the stored introducers exactly `rows`, ranked under `ranking` (of its
    records only, when it is `partial`).

    The switch and the exclusions are read again in the writing transaction:
    switched off meanwhile, every row goes; a colleague excluded meanwhile
    (an opt-out during a long run) makes this rank again under the new
    exclusions, so no row is written for them.
    """
    if ranking is None or not current_settings(engine)[SWITCH]:
        with session_scope(engine) as session:
            removed = delete_introducers(session=session)
        return IntroducerSummary(enabled=False, written=IntroducerCounts(removed=removed))
    with session_scope(engine) as session:
        excluded = excluded_colleagues(
            session=session, configured=ranking.configured_exclusions, now=ranking.now
        )
        some = ranking.records if ranking.partial else None
        if excluded != ranking.excluded:
            ranking = replace(ranking, excluded=excluded)
            rows = ranking.columnar_rows(read_columns(engine, refs=some))
        replaced = (
            None if some is None else [(ref.type.value, ref.id) for ref in some | ranking.forgotten]
        )
        counts = replace_introducers(session=session, rows=rows, now=ranking.now, records=replaced)
    records = len({(row.record_type, row.record_id) for row in rows})
    log.debug("introducers refreshed", records=records, **vars(counts))
    return IntroducerSummary(enabled=True, records=records, written=counts)


def _rows(ranked: Iterable[tuple[Introducer, ...]]) -> list[IntroducerRow]:
    return [
        IntroducerRow(
            i.record.type.value,
            i.record.id,
            i.system_user_id,
            i.rank,
            i.strength,
            i.label.value,
            i.last_interaction_at,
        )
        for introducers in ranked
        for i in introducers
    ]


def _ranked_rows(ranked: Ranked) -> list[IntroducerRow]:
    """The rows of a ranking made as arrays (rank_columns), straight from them."""
    refs, users = ranked.refs, ranked.users
    people = ranked.person.tolist()
    # A person's introducers are together: each one's (type, id) is made once.
    record = {
        person: (_TYPES[refs[person].type], refs[person].id) for person in dict.fromkeys(people)
    }
    return [
        IntroducerRow(
            *record[person], users[colleague], rank, strength, _LABELS[strength], moment(us)
        )
        for person, colleague, rank, strength, us in zip(
            people,
            ranked.colleague.tolist(),
            ranked.rank.tolist(),
            ranked.strength.tolist(),
            ranked.last_us.tolist(),
            strict=True,
        )
    ]
