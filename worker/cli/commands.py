"""What each CLI command does, returning plain data the CLI prints or dumps as JSON."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from consent.check import TOKEN_FAILED
from scoring.introducers import INTRODUCED_TYPES
from storage import health_read, migrate
from storage.engine import (
    create_store_engine,
    redacted,
    session_scope,
)
from worker.admin_settings import (
    DEFAULTS,
    SettingError,
    allowed,
    change_setting,
    current_settings,
    grade_ranges,
)
from worker.failures import EXIT_EXCHANGE_FAILED, UserError
from worker.run.exchange import ExchangeSummary, residency_hint, round_figures
from worker.run.lock import holding_run_lock, this_process
from worker.run.tick import RunSummary, run_tick
from worker.settings import Settings

RECORD_TYPES = ("contact", "lead", "opportunity", "account")
# `--now` of a run that writes back: within this distance of the real clock unless
# --allow-far-now says the distance is meant (a typo such as 9999 would stamp
# every CRM record with a health "as of" a date nobody lives in).
NOW_MAX_BEHIND, NOW_MAX_AHEAD = timedelta(days=3653), timedelta(days=1)
# Any `--now`, far or not: scoring and retention count years back and ahead of it.
EARLIEST_NOW = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_NOW = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)


def parse_time(option: str, value: str) -> datetime:
    """An ISO-8601 date or time given on the command line, in UTC; a naive one is UTC."""
    try:
        parsed = datetime.fromisoformat(value)
        # In UTC now: an offset at year 1 or 9999 would overflow later, inside a query.
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except ValueError:
        raise UserError(f"{option}: {value!r} is not allowed; expected an ISO-8601 time") from None
    except OverflowError:
        raise UserError(
            f"{option}: {value!r} is not allowed; its offset takes it outside years 1-9999"
        ) from None


def parse_now(option: str, value: str) -> datetime:
    """`parse_time` for a time to score or purge as of: 1970-2999."""
    parsed = parse_time(option, value)
    if not EARLIEST_NOW <= parsed <= LATEST_NOW:
        raise UserError(
            f"{option}: {value!r} is not allowed; expected a time from "
            f"{EARLIEST_NOW.year} to {LATEST_NOW.year}"
        )
    return parsed


def given_now(value: str | None, *, allow_far: bool = True) -> datetime:
    """`--now` as given, or the clock when it is not. A command that writes passes
    allow_far=--allow-far-now, so that a time far from the clock is refused unless meant."""
    clock = datetime.now(UTC)
    if value is None:
        return clock
    return near_clock("--now", parse_now("--now", value), clock=clock, allow_far=allow_far)


def near_clock(option: str, moment: datetime, *, clock: datetime, allow_far: bool) -> datetime:
    """Refuse a time too far from the real clock for a command that writes, unless allowed."""
    if allow_far or clock - NOW_MAX_BEHIND <= moment <= clock + NOW_MAX_AHEAD:
        return moment
    raise UserError(
        f"{option}: {moment.isoformat()} is too far from the clock ({clock:%Y-%m-%d}); "
        f"expected at most {NOW_MAX_BEHIND.days} days before it or {NOW_MAX_AHEAD.days} day "
        "after it, or add --allow-far-now if that time is meant"
    )


def db_upgrade(settings: Settings) -> dict[str, Any]:
    """Create or update the store: the one command that may create a SQLite file."""
    store = create_store_engine(settings.database_url)
    try:
        migrate.upgrade(store)
        return db_current(store, redacted(settings.database_url))
    finally:
        store.dispose()


def db_current(store: Engine, label: str) -> dict[str, Any]:
    return {
        "database": label,
        "current": migrate.current_revision(store),
        "head": migrate.head_revision(),
    }


def settings_show(store: Engine) -> dict[str, Any]:
    values = current_settings(store)
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


def settings_set(store: Engine, key: str, raw: str) -> dict[str, Any]:
    try:
        old, new = change_setting(store, key, raw, now=datetime.now(UTC))
    except SettingError as refusal:
        raise UserError(str(refusal)) from None
    values = current_settings(store)
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
        # CRM values outside the contract (docs/crm-contract.md): all counted, the first 20 shown.
        "skipped_crm_rows": [str(problem) for problem in summary.ingest.problems],
        "crm_row_problems": {
            "count": summary.ingest.problems.count,
            "by_column": dict(sorted(summary.ingest.problems.by_column.items())),
        },
        "scoring": summary.scoring,  # skipped, changed or regrade (docs/deploy.md, "Ticks")
        "regrade_reason": summary.regrade_reason,
        "records_scored": summary.records_scored,
        "by_state": summary.by_state,
        "written": asdict(summary.writeback),
        "seconds": {stage: round(value, 3) for stage, value in summary.seconds.items()},
        "exchange": exchange_payload(summary.exchange),
        "failure": run_failure(summary),
        "exit_code": summary.exit_code or (EXIT_EXCHANGE_FAILED if run_failure(summary) else 0),
        "introducers": asdict(summary.introducers) if summary.introducers else None,
        "dataverse": summary.dataverse,  # RAPPORT_CRM=dataverse: pull, push, requests
    }


def run_failure(summary: RunSummary) -> str | None:
    """What failed as a whole (`run --once` exits 5): the summary's own failure, or a
    token Exchange could not get (a wrong secret, an unknown app: `token_failed`, which
    pauses the sync; docs/exchange-sync.md). The reason is Entra's AADSTS line, which
    never carries the secret. Not configured, or consent missing, is no failure: the
    tenant is meant to be scored from CRM data then."""
    return summary.failure or _token_failure(summary.exchange)


def _token_failure(exchange: ExchangeSummary | None) -> str | None:
    if exchange is None or exchange.state != TOKEN_FAILED:
        return None
    return f"the Exchange sync failed before any mailbox was read: {exchange.reason}"


def exchange_payload(exchange: ExchangeSummary | None) -> dict[str, Any] | None:
    if exchange is None:
        return None
    payload: dict[str, Any] = {
        "state": exchange.state,
        "reason": exchange.reason,
        "failure": exchange.failure or _token_failure(exchange),
    }
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
            residency_hint=residency_hint(tenant),
            **round_figures(tenant),
        )
        for decision in tenant.decisions:
            payload["decisions"][decision.status or "eligible"] += 1
    return payload


def run_once(
    store: Engine, settings: Settings, now: datetime, *, interactive: bool, full: bool = False
) -> dict[str, Any]:
    """One tick; `full`: regrade every record whatever RAPPORT_REGRADE_EVERY says."""
    label = this_process("rapport run --once")  # one run at a time per store
    with holding_run_lock(store, wait_seconds=settings.run_wait_seconds, label=label):
        if not interactive:
            return summary_payload(asyncio.run(run_tick(store, settings, now=now, full=full)))
        from worker.cli.progress import progress_bar

        with progress_bar() as progress:
            return summary_payload(
                asyncio.run(run_tick(store, settings, now=now, progress=progress, full=full))
            )


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


def resolve_person(record: str, store: Engine) -> tuple[str, str, str]:
    """(record_type, record_id, name) of the contact or lead named; UserError otherwise."""
    with session_scope(store) as session:
        if "@" in record and ":" not in record:
            found = health_read.find_by_address(session=session, address=record)
            if not found:
                raise UserError(f"record: no contact or lead has the address {record.strip()!r}")
            record_type, record_id = found[0]
        else:
            record_type, _, record_id = record.strip().partition(":")
            if record_type not in INTRODUCED_TYPES or not record_id:
                raise UserError(
                    f"record: {record!r} is not allowed; expected contact:ID, lead:ID "
                    "or an email address"
                )
        row = health_read.load_record(session=session, record_type=record_type, record_id=record_id)
        if row is None:
            raise UserError(f"record: no {record_type} with id {record_id!r}")
        return record_type, record_id, row["display_name"]


def health_show(store: Engine, record: str) -> dict[str, Any]:
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
        # CRM values no type reads, shown as unknown (storage.health_read)
        "unreadable": [str(problem) for problem in row[health_read.UNREADABLE_KEY]],
    }
