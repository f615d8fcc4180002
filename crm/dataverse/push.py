"""Push health out to Dataverse: only records whose values changed since the last push.

Per record (contact, lead, opportunity, account) the values Rapport's columns should
hold are read from the store (health_*; the first reason and the weakest key contact
from relationship_kpi). Their digest is compared with the one kept in dataverse_push:
equal -> nothing to send. The rest go out with `UpdateMultiple`, `batch_size` targets
per request, and every batch's outcome is committed with its digests (a failed batch
keeps no digest, so the next run sends it again). UpdateMultiple is all or nothing: when
a target no longer exists, that batch is sent again one record at a time (`PATCH` with
`If-Match: *`, which never creates) and each missing record is reported and skipped.

Only Rapport's columns (crm.dataverse.columns) are ever in a body. An erased data
subject's record gets every column cleared, and stays cleared while the subject is
erased (compliance: docs/dataverse.md).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from crm.dataverse.client import DataverseClient
from crm.dataverse.columns import CONTACT_LENGTH, REASON_LENGTH, TABLES, logical_names
from crm.dataverse.exceptions import RecordMissing, TransientError
from storage import dataverse_store as store
from storage.crm_tables import Contact
from storage.engine import session_scope
from storage.suppression import load_suppression
from storage.types import core_table
from storage.writeback import KPI, RECORD_TABLES

CLEARED: dict[str, Any] = {}  # no value in any column
CONTACT = core_table(Contact)

RecordKey = tuple[str, str]


@dataclass
class PushReport:
    considered: int = 0
    unchanged: int = 0
    pushed: int = 0
    cleared: int = 0  # erased subjects (or `clear`) whose columns were emptied
    missing: list[str] = field(default_factory=list)  # "contact <id>": deleted in Dataverse
    failed: int = 0  # records of batches that failed; the next run retries them
    batches: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def digest(values: dict[str, Any]) -> str:
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _health_rows(session: Session, record_type: str) -> dict[str, dict[str, Any]]:
    table = RECORD_TABLES[record_type]
    query = sa.select(
        table.c.id,
        table.c.health_score,
        table.c.health_state,
        table.c.health_trend,
        table.c.health_updated_at,
    )
    return {str(row["id"]): dict(row) for row in session.execute(query).mappings()}


def _kpi_rows(session: Session) -> dict[RecordKey, tuple[Any, Any, Any]]:
    query = sa.select(
        KPI.c.record_type,
        KPI.c.record_id,
        KPI.c.reasons,
        KPI.c.weakest_contact_id,
        KPI.c.weakest_contact_role,
    )
    return {(str(row[0]), str(row[1])): (row[2], row[3], row[4]) for row in session.execute(query)}


def _contact_names(session: Session) -> dict[str, str]:
    query = sa.select(CONTACT.c.id, CONTACT.c.full_name)
    return {str(i): str(n) for i, n in session.execute(query)}


def desired_values(session: Session) -> dict[RecordKey, dict[str, Any]]:
    """What Rapport's columns should hold on every record the store knows, by push key."""
    kpis, names = _kpi_rows(session), _contact_names(session)
    wanted: dict[RecordKey, dict[str, Any]] = {}
    for record_type in TABLES:
        for record_id, health in _health_rows(session, record_type).items():
            reasons, weakest, role = kpis.get((record_type, record_id), (None, None, None))
            updated = health["health_updated_at"]
            values = {
                "health_score": health["health_score"],
                "health_state": health["health_state"],
                "health_trend": health["health_trend"],
                "health_updated_at": _iso(updated),
                "health_reason": _first_reason(reasons),
                "weakest_contact": _weakest(names.get(str(weakest)) if weakest else None, role),
            }
            wanted[(record_type, record_id)] = values
    return wanted


def _iso(moment: datetime | None) -> str | None:
    """UTCDateTime reads an aware UTC time on both databases."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _first_reason(reasons: list[str] | None) -> str | None:
    if not reasons:
        return None
    return str(reasons[0])[:REASON_LENGTH]


def _weakest(name: str | None, role: Any) -> str | None:
    if name is None:
        return None
    return (f"{name} ({role})" if role else name)[:CONTACT_LENGTH]


@dataclass
class Change:
    record_type: str
    record_id: str
    values: dict[str, Any]  # by push key; CLEARED values are all None
    digest: str


def changes(
    engine: Engine, *, clear_all: bool = False, only: set[RecordKey] | None = None
) -> tuple[list[Change], int]:
    """Records whose values differ from the last push (among `only`, when given), and how
    many were considered."""
    with Session(engine) as session:
        wanted = desired_values(session)
        pushed = store.pushed_digests(session=session)
        erased = load_suppression(session=session)
    empty = dict.fromkeys(logical_names("x"))
    found: list[Change] = []
    for key in sorted(set(wanted) | set(pushed)):
        if only is not None and key not in only:
            continue
        values = wanted.get(key, empty)
        if clear_all or erased.record_erased(*key) or key not in wanted:
            values = empty  # erased (or gone here): Rapport's values leave Dataverse too
        before = pushed.get(key)
        if before is None and all(value is None for value in values.values()):
            continue  # never pushed and nothing to say
        now_digest = digest(values)
        if (
            before is not None
            and before[1] == "missing"
            and (key not in wanted or before[0] == now_digest)
        ):
            continue  # deleted in Dataverse: reported once, not sent again unchanged
        if before is None or before != (now_digest, "pushed"):
            found.append(Change(key[0], key[1], values, now_digest))
    return found, len(set(wanted) | set(pushed))


class Pusher:
    def __init__(
        self,
        client: DataverseClient,
        engine: Engine,
        *,
        prefix: str,
        now: datetime,
        batch_size: int = 100,
    ) -> None:
        self.client = client
        self.engine = engine
        self.columns = logical_names(prefix)
        self.now = now
        self.batch_size = batch_size
        self.report = PushReport()

    async def push(
        self, *, clear_all: bool = False, only: set[RecordKey] | None = None
    ) -> PushReport:
        found, considered = changes(self.engine, clear_all=clear_all, only=only)
        self.report.considered = considered
        self.report.unchanged = considered - len(found)
        for record_type in TABLES:
            mine = [change for change in found if change.record_type == record_type]
            for start in range(0, len(mine), self.batch_size):
                await self._batch(record_type, mine[start : start + self.batch_size])
        return self.report

    def _target(self, change: Change) -> dict[str, Any]:
        logical, _set, primary = TABLES[change.record_type]
        body = {self.columns[key]: value for key, value in change.values.items()}
        return {
            "@odata.type": f"Microsoft.Dynamics.CRM.{logical}",
            primary: change.record_id,
            **body,
        }

    async def _batch(self, record_type: str, batch: list[Change]) -> None:
        entity_set = TABLES[record_type][1]
        self.report.batches += 1
        try:
            await self.client.send(
                "POST",
                f"{entity_set}/Microsoft.Dynamics.CRM.UpdateMultiple",
                body={"Targets": [self._target(change) for change in batch]},
            )
        except RecordMissing:
            await self._one_by_one(entity_set, batch)
            return
        except TransientError:
            self._record(batch, "failed")
            return
        self._record(batch, "pushed")

    async def _one_by_one(self, entity_set: str, batch: list[Change]) -> None:
        done, missing, failed = [], [], []
        for change in batch:
            target = self._target(change)
            body = {k: v for k, v in target.items() if k in self.columns.values()}
            try:
                await self.client.send(
                    "PATCH",
                    f"{entity_set}({change.record_id})",
                    headers={"If-Match": "*"},
                    body=body,
                )
            except RecordMissing:
                missing.append(change)
            except TransientError:
                failed.append(change)
            else:
                done.append(change)
        self._record(done, "pushed")
        self._record(missing, "missing")
        self._record(failed, "failed")
        self.report.missing += [f"{c.record_type} {c.record_id}" for c in missing]

    def _record(self, batch: list[Change], outcome: str) -> None:
        if not batch:
            return
        if outcome == "pushed":
            self.report.pushed += len(batch)
            self.report.cleared += sum(
                all(value is None for value in change.values.values()) for change in batch
            )
        elif outcome == "failed":
            self.report.failed += len(batch)
        rows = [
            (c.record_type, c.record_id, c.digest if outcome != "failed" else "", c.values)
            for c in batch
        ]
        with session_scope(self.engine) as session:
            store.record_pushes(session=session, pushed=rows, outcome=outcome, at=self.now)
