"""An erasure committed while a run is in flight: applied again when the run ends.

A run reads the suppression list (through the directory and the CRM
snapshot) long before it writes: the CRM ingest reads it and then writes
interactions and party rows, scoring processes write KPI rows and health
computed from interactions read earlier, introducers are stored last. A
`rapport erase` that commits in between removes what is stored at that
moment, and the run then writes the subject back from what it read before.

So every run (`rapport run --once`, each service tick's Exchange round and
scoring run) is wrapped in `erasures_outlast_run` (`erasures_outlast_round`
for the async Exchange round):

1. When the run starts, before any stage reads the list, it notes the list
   (`storage.suppression.suppression_mark`).
2. When the run has written everything, one transaction takes the
   suppression lock, reads which subjects were listed since the mark, and
   applies the erasure to them again, with the code of `rapport erase`
   (`compliance.erase.apply_plan`), audited as `late_writes_erased`.
3. `rapport erase` takes the same lock first, before it reads anything.

Why no erasure can be undone: take an erasure E that commits while the run
is in flight, and the final sweep S. E and S both take the lock first, so
one runs wholly after the other committed.
- E before S: S reads E's tokens, since they were committed before its
  first read, and they are not in the mark (E committed after the run
  started, or E was still in flight when the mark was read). Every write of
  the run committed before S began, so S sees and removes all of them.
- S before E: every write of the run committed before S began, so before E
  read anything; E removes them like any stored row.
"Every write of the run" includes its forked scoring processes': the run
reaps them all before its sweep (worker.run.scoring_processes.run_parts).
An erasure committed before the mark was read is seen by every stage of
the run, which leaves the subject out (storage.suppression). Both the lock
and the mark are needed: without the lock, S could read the list before E
commits while E's deletes ran before the run's last write did.

The guarantee ends with the run: a run that dies before its sweep leaves
what it wrote for the next run, which derives the subject's activities
again (their digests change with the suppression list) and clears late
health (storage.suppression.forget_late_health).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from compliance.erase import apply_plan
from compliance.erase_plan import plan_erasure
from compliance.exceptions import UnknownSubjectError
from compliance.hashing import store_hasher
from compliance.subjects import Subject, SubjectRecord, resolve_subject
from compliance.tables import (
    CURSOR,
    INTERACTION,
    INTRODUCER,
    KPI,
    MAILBOX,
    PARTY,
    SIGHTING,
    SNAPSHOT,
    RecordKey,
)
from storage.audit import record_event
from storage.engine import session_scope
from storage.suppression import (
    Suppression,
    SuppressionMark,
    erased_records,
    hold_suppression_lock,
    listed_since,
    suppression_mark,
)

log = logging.getLogger(__name__)

SWEEP_COMMAND, SWEEP_ACTION = "run", "late_writes_erased"


@dataclass(frozen=True)
class LateErasure:
    """What the sweep at the end of a run removed again."""

    records: int  # records of subjects erased while the run was in flight
    counts: dict[str, int]  # as an erasure reports them (compliance.erase_plan)


def note_erasures(engine: Engine) -> SuppressionMark:
    """The suppression list as a run starts: call it before any stage reads the list."""
    with session_scope(engine) as session:
        return suppression_mark(session=session)


@contextmanager
def erasures_outlast_run(engine: Engine, *, now: datetime) -> Iterator[None]:
    """Run the block as one run: whoever is erased while it runs is erased again
    when it ends (see the module docstring). `now` dates the audit row."""
    mark = note_erasures(engine)
    try:
        yield
    except Exception:
        erase_after_failure(engine, mark=mark, now=now)
        raise
    erase_late_writes(engine, mark=mark, now=now)


@asynccontextmanager
async def erasures_outlast_round(engine: Engine, *, now: datetime) -> AsyncIterator[None]:
    """`erasures_outlast_run` for an async run (the Exchange round)."""
    mark = await asyncio.to_thread(note_erasures, engine)
    try:
        yield
    except Exception:
        await asyncio.to_thread(erase_after_failure, engine, mark=mark, now=now)
        raise
    await asyncio.to_thread(erase_late_writes, engine, mark=mark, now=now)


def erase_after_failure(engine: Engine, *, mark: SuppressionMark, now: datetime) -> None:
    """What a failed run committed before failing may name the subject too; the
    run's own failure is the one to report, so a failure here is only logged."""
    try:
        erase_late_writes(engine, mark=mark, now=now)
    except Exception as error:
        # The type only: a database error's text carries the SQL and its parameters.
        log.warning(
            "erasing again after a failed run failed (%s); the next run leaves them out",
            type(error).__name__,
        )


def erase_late_writes(engine: Engine, *, mark: SuppressionMark, now: datetime) -> LateErasure:
    """Apply again the erasure of every subject listed since `mark`, in one transaction."""
    with session_scope(engine) as session:
        hold_suppression_lock(session=session)  # first: see the module docstring
        listed = listed_since(session=session, mark=mark)
        subject = _listed_subject(session, listed)
        if subject is None:
            return LateErasure(0, {})
        hasher = store_hasher(session=session, now=now)
        plan = plan_erasure(session, subject)
        apply_plan(session, plan, hasher)
        counts = plan.counts()
        if any(counts.values()):
            record_event(
                session=session,
                at=now,
                command=SWEEP_COMMAND,
                action=SWEEP_ACTION,
                subject=hasher.token(subject.query),
                details={"records": len(subject.records), "counts": counts},
            )
    return LateErasure(len(subject.records), counts)


def _listed_subject(session: Session, listed: Suppression) -> Subject | None:
    """Every record the newly listed tokens name, as one subject: CRM records by
    reference or address, and records the CRM no longer holds by reference."""
    if not listed:
        return None
    refs = set(erased_records(session=session, suppression=listed))
    refs.update(ref for ref in _held_refs(session) if listed.record_erased(*ref))
    records: dict[RecordKey, SubjectRecord] = {}
    for record_type, record_id in sorted(refs):
        try:
            found = resolve_subject(session=session, text=f"{record_type}:{record_id}")
        except UnknownSubjectError:
            continue  # nothing of it anywhere: nothing to erase
        records.update((record.ref, record) for record in found.records)
    if not records:
        return None
    _add_orphaned_mailboxes(session, records)
    first_type, first_id = min(records)
    return Subject(f"{first_type}:{first_id}", tuple(records[ref] for ref in sorted(records)))


def _add_orphaned_mailboxes(session: Session, records: dict[RecordKey, SubjectRecord]) -> None:
    """Give an erased colleague the sync state written for a mailbox whose row is gone.

    The erasure deleted the colleague's mailbox row, which is how their mailbox
    is found; an Exchange round in flight kept committing that mailbox's pages
    (sightings, cursors) by its Graph id. Nothing but an erasure deletes a
    mailbox row, so such rows belong to a colleague erased during the round.
    """
    colleagues = sorted(ref for ref in records if ref[0] == "system_user")
    if not colleagues:
        return
    known = sa.select(MAILBOX.c.id)
    orphaned: set[str] = set()
    for table in (SIGHTING, CURSOR):
        query = sa.select(table.c.mailbox_id).where(table.c.mailbox_id.not_in(known)).distinct()
        orphaned.update(session.scalars(query))
    if orphaned:
        record = records[colleagues[0]]
        mailboxes = tuple(sorted(orphaned.union(record.mailboxes)))
        records[colleagues[0]] = replace(record, mailboxes=mailboxes)


def _held_refs(session: Session) -> set[RecordKey]:
    """The records Rapport's own tables name, whether the CRM holds them or not."""
    typed = [
        (PARTY.c.record_type, PARTY.c.record_id),
        (KPI.c.record_type, KPI.c.record_id),
        (SNAPSHOT.c.record_type, SNAPSHOT.c.record_id),
        (INTRODUCER.c.record_type, INTRODUCER.c.record_id),
        (INTERACTION.c.regarding_type, INTERACTION.c.regarding_id),
    ]
    held: set[RecordKey] = set()
    for record_type, record_id in typed:
        query = sa.select(record_type, record_id).where(record_id.is_not(None)).distinct()
        held.update((t, i) for t, i in session.execute(query) if t and i)
    for colleague in (INTRODUCER.c.system_user_id, MAILBOX.c.system_user_id):
        query = sa.select(colleague).where(colleague.is_not(None)).distinct()
        held.update(("system_user", user_id) for user_id in session.scalars(query))
    return held
