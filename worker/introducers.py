"""The who-knows-whom step of a pipeline tick: rank introducers, store the difference.

`refresh_introducers` runs after write-back, on the interactions the run
already loaded (or, called on its own, reading them first), with the CRM's
people and the exclusions. With the admin switch `switch.who_knows_whom` off
nothing is computed and every stored row goes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from scoring import Interaction, RecordRef, RecordType, rank_introducers
from scoring.introducers import Introducer
from storage.crm_records import CrmSnapshot, load_crm_snapshot
from storage.engine import session_scope
from storage.introducer_store import (
    IntroducerCounts,
    IntroducerRow,
    delete_introducers,
    replace_introducers,
)
from worker.interactions import load_interactions
from worker.introducer_optout import excluded_colleagues
from worker.ri_settings import current_settings, scoring_settings

log = logging.getLogger(__name__)

SWITCH = "switch.who_knows_whom"


@dataclass
class IntroducerSummary:
    enabled: bool
    records: int = 0  # contacts and leads with at least one introducer
    written: IntroducerCounts = field(default_factory=IntroducerCounts)


def refresh_introducers(
    engine: Engine,
    *,
    now: datetime,
    excluded_users: Iterable[str] = (),
    interactions: Iterable[Interaction] | None = None,
    crm: CrmSnapshot | None = None,
) -> IntroducerSummary:
    """Recompute every contact's and open lead's introducers as of `now`.

    `excluded_users`: RAPPORT_EXCLUDED_USERS (ids or addresses), from the caller's
    settings. `interactions` and `crm` are what a pipeline run has loaded
    already; otherwise they are read here. One transaction for the rest: the
    exclusions read are the ones the rows are written under.
    """
    values = current_settings(engine)
    if not values[SWITCH]:
        with session_scope(engine) as session:
            removed = delete_introducers(session=session)
        return IntroducerSummary(enabled=False, written=IntroducerCounts(removed=removed))
    if interactions is None:
        interactions = load_interactions(engine)
    with session_scope(engine) as session:
        if crm is None:
            crm = load_crm_snapshot(session=session)
        records = {RecordRef(RecordType.CONTACT, c.id) for c in crm.contacts}
        records |= {RecordRef(RecordType.LEAD, lead.id) for lead in crm.open_leads}
        ranked = rank_introducers(
            interactions,
            scoring_settings(values),
            now,
            records=records,
            colleagues={user.id for user in crm.users},
            excluded=excluded_colleagues(
                session=session, configured=tuple(excluded_users), now=now
            ),
        )
        counts = _store(session, ranked.values(), now)
    log.debug("introducers refreshed", extra={"fields": {"records": len(ranked), **vars(counts)}})
    return IntroducerSummary(enabled=True, records=len(ranked), written=counts)


def _store(
    session: Session, ranked: Iterable[tuple[Introducer, ...]], now: datetime
) -> IntroducerCounts:
    rows = (
        IntroducerRow(
            i.record.type.value, i.record.id, i.system_user_id, i.rank, i.strength,
            i.label.value, i.last_interaction_at,
        )
        for introducers in ranked
        for i in introducers
    )  # fmt: skip
    return replace_introducers(session=session, rows=rows, now=now)
