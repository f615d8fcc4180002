"""What each CLI command does, returning plain data the CLI prints or dumps as JSON."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from storage import health_read, migrate
from storage.engine import create_store_engine, redacted, session_scope
from worker.exchange import ExchangeSummary
from worker.failures import UserError
from worker.logging_setup import configure_logging
from worker.pipeline import RunSummary, run_tick
from worker.pipeline import run_once as run_pipeline
from worker.ri_settings import (
    DEFAULTS,
    SettingError,
    allowed,
    change_setting,
    current_settings,
    grade_ranges,
)
from worker.run_lock import holding_run_lock, this_process
from worker.settings import Settings

RECORD_TYPES = ("contact", "lead", "opportunity", "account")


@cache
def settings() -> Settings:
    loaded = Settings()
    configure_logging(loaded.log_level, loaded.log_format)
    return loaded


@cache
def engine() -> Engine:
    return create_store_engine(settings().database_url)


def database_label() -> str:
    try:
        return redacted(settings().database_url)
    except Exception:  # noqa: BLE001 - only used to word another error
        return "<unconfigured database>"


def _migrated_engine() -> Engine:
    store = engine()
    migrate.require_current(store)
    return store


def db_upgrade() -> dict[str, Any]:
    migrate.upgrade(engine())
    return db_current()


def db_current() -> dict[str, Any]:
    return {
        "database": database_label(),
        "current": migrate.current_revision(engine()),
        "head": migrate.head_revision(),
    }


def settings_show() -> dict[str, Any]:
    values = current_settings(_migrated_engine())
    return {
        "settings": [
            {
                "key": key,
                "value": values[key],
                "default": DEFAULTS[key],
                "allowed": allowed(key, values),
            }
            for key in DEFAULTS
        ],
        "grades": [asdict(grade) for grade in grade_ranges(values)],
    }


def settings_set(key: str, raw: str) -> dict[str, Any]:

    try:
        old, new = change_setting(_migrated_engine(), key, raw, now=datetime.now(UTC))
    except SettingError as refusal:
        raise UserError(str(refusal)) from None
    values = current_settings(engine())
    return {
        "key": key,
        "old": old,
        "new": new,
        "changed": old != new,
        "grades": [asdict(grade) for grade in grade_ranges(values)],
    }


def summary_payload(summary: RunSummary) -> dict[str, Any]:
    return {
        "now": summary.now.isoformat(),
        "crm_activities": summary.ingest.activities,
        "crm_activities_unchanged": summary.ingest.unchanged,
        "interactions": {**asdict(summary.ingest.counts), "total": summary.interactions},
        "skipped_crm_rows": [str(problem) for problem in summary.ingest.problems],
        "records_scored": summary.records_scored,
        "by_state": summary.by_state,
        "written": asdict(summary.writeback),
        "seconds": {stage: round(value, 3) for stage, value in summary.seconds.items()},
        "exchange": exchange_payload(summary.exchange),
        "introducers": asdict(summary.introducers) if summary.introducers else None,
    }


def exchange_payload(exchange: ExchangeSummary | None) -> dict[str, Any] | None:
    if exchange is None:
        return None
    payload: dict[str, Any] = {"state": exchange.state, "reason": exchange.reason}
    if exchange.consent is not None:
        payload["missing_permissions"] = exchange.consent.needed_for
    if exchange.tenant is not None:
        tenant = exchange.tenant
        counters = [m.counters for m in tenant.mailboxes]
        payload.update(
            mailboxes=exchange.by_status,
            decisions={d.status or "eligible": 0 for d in tenant.decisions},
            items=sum(c.items for c in counters),
            pages=sum(c.pages for c in counters),
            malformed_items=sum(c.malformed for c in counters),
            retries=sum(c.retries for c in counters),
        )
        for decision in tenant.decisions:
            payload["decisions"][decision.status or "eligible"] += 1
    return payload


def run_once(now: datetime, *, interactive: bool) -> dict[str, Any]:
    store = _migrated_engine()
    label = this_process("rapport run --once")  # one run at a time per store
    with holding_run_lock(store, wait_seconds=settings().run_wait_seconds, label=label):
        if not interactive:
            return summary_payload(asyncio.run(run_tick(store, settings(), now=now)))
        from worker.progress import progress_bar

        with progress_bar() as progress:
            return summary_payload(
                asyncio.run(run_tick(store, settings(), now=now, progress=progress))
            )


def demo(database: Path, now: datetime) -> dict[str, Any]:
    from worker.demo_data import seed_demo_crm

    configure_logging("WARNING", "text")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    store = create_store_engine(f"sqlite:///{database}")
    migrate.upgrade(store)
    facts = seed_demo_crm(store, now=now)
    summary = run_pipeline(store, now=now)
    with session_scope(store) as session:
        risky = health_read.at_risk(session=session, limit=8)
        deals = health_read.deals_at_risk(session=session, limit=5)
    store.dispose()
    return {
        "database": str(database),
        "summary": summary_payload(summary),
        "at_risk": risky,
        "deals_at_risk": deals,
        "scenario": asdict(facts),
    }


def _resolve(record: str, store: Engine) -> tuple[str, str]:
    with session_scope(store) as session:
        if "@" in record:
            found = health_read.find_by_address(session=session, address=record)
            if not found:
                raise UserError(f"record: no contact or lead has the address {record!r}")
            return found[0]
        record_type, _, record_id = record.partition(":")
        if record_type not in RECORD_TYPES or not record_id:
            raise UserError(
                f"record: {record!r} is not allowed; expected TYPE:ID with TYPE one of "
                f"{', '.join(RECORD_TYPES)}, or an email address"
            )
        if health_read.load_record(session=session, record_type=record_type, record_id=record_id):
            return record_type, record_id
    raise UserError(f"record: no {record_type} with id {record_id!r}")


def health_show(record: str) -> dict[str, Any]:
    store = _migrated_engine()
    record_type, record_id = _resolve(record, store)
    with session_scope(store) as session:
        row = health_read.load_record(session=session, record_type=record_type, record_id=record_id)
        kpi = health_read.load_kpi(session=session, record_type=record_type, record_id=record_id)
        history = health_read.load_history(
            session=session, record_type=record_type, record_id=record_id
        )
    assert row is not None
    return {
        "record_type": record_type,
        "record_id": record_id,
        "name": row["display_name"],
        "health_score": row["health_score"],
        "health_state": row["health_state"],
        "health_trend": row["health_trend"],
        "health_updated_at": row["health_updated_at"],
        "kpi": kpi,
        "history": history,
    }
