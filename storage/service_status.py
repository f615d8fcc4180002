"""What the store says about the service: tenants, consent, mailboxes, rounds, lag.

`rapport status` prints it; the metrics endpoint turns it into gauges. It
reads only ids, states and times: never an address.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from storage import lease_store, migrate
from storage.engine import session_scope
from storage.mailbox_store import list_mailboxes, load_tenants

NOT_SYNCED = ("out_of_scope", "location_excluded")  # decided never to be read


@dataclass
class StoreState:
    now: datetime
    schema: dict[str, str | None]
    tenants: list[dict[str, Any]] = field(default_factory=list)
    mailboxes_by_status: dict[str, int] = field(default_factory=dict)
    lag_seconds: dict[str, float | None] = field(default_factory=dict)  # eligible mailbox -> lag
    last_round: int | None = None  # the worker's rounds (mailbox leases)
    last_round_at: datetime | None = None
    # When any mailbox was last read, by the worker or by `rapport run --once`,
    # which syncs without leases: without this, status never saw its rounds.
    last_read_at: datetime | None = None
    replicas: list[str] = field(default_factory=list)
    leased_mailboxes: int = 0
    jobs: dict[str, dict[str, datetime | None]] = field(default_factory=dict)

    @property
    def max_lag_seconds(self) -> float | None:
        known = [lag for lag in self.lag_seconds.values() if lag is not None]
        return max(known) if known else None


def _lag(row: dict[str, Any], now: datetime) -> float | None:
    done = row["last_success_at"]
    return None if done is None else max((now - done).total_seconds(), 0.0)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _tenant(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "consent": row["consent_state"],
        "reason": row["consent_reason"],
        "missing_permissions": row["missing_roles"] or [],
        "checked_at": _iso(row["consent_checked_at"]),
    }


def load_store_state(engine: Engine, now: datetime) -> StoreState:
    state = StoreState(
        now, {"current": migrate.current_revision(engine), "head": migrate.head_revision()}
    )
    with session_scope(engine) as session:
        state.tenants = [_tenant(row) for row in load_tenants(session=session)]
        mailboxes = list_mailboxes(session=session)
        leases = lease_store.load_leases(session=session)
        state.replicas = lease_store.live_replicas(session=session, now=now)
    state.mailboxes_by_status = dict(Counter(row["status"] for row in mailboxes))
    state.lag_seconds = {
        row["id"]: _lag(row, now) for row in mailboxes if row["status"] not in NOT_SYNCED
    }
    attempts = [row["last_attempt_at"] for row in mailboxes if row["last_attempt_at"]]
    state.last_read_at = max(attempts, default=None)
    mailbox_leases = [lease for lease in leases if lease["kind"] == lease_store.MAILBOX_KIND]
    done = [lease for lease in mailbox_leases if lease["round"] is not None]
    if done:
        state.last_round = max(lease["round"] for lease in done)
        state.last_round_at = max(lease["completed_at"] for lease in done)
    state.leased_mailboxes = sum(
        1 for lease in mailbox_leases if lease["holder"] and lease["expires_at"] > now
    )
    state.jobs = {
        lease["key"]: {"started_at": lease["acquired_at"], "completed_at": lease["completed_at"]}
        for lease in leases
        if lease["kind"] == lease_store.JOB_KIND
    }
    return state


def status_payload(state: StoreState) -> dict[str, Any]:
    lags = sorted(
        ((lag, mailbox) for mailbox, lag in state.lag_seconds.items() if lag is not None),
        reverse=True,
    )
    return {
        "at": state.now.isoformat(),
        "schema": state.schema,
        "tenants": state.tenants,
        "mailboxes": {
            "by_status": state.mailboxes_by_status,
            "total": sum(state.mailboxes_by_status.values()),
            "never_synced": sum(1 for lag in state.lag_seconds.values() if lag is None),
            "max_lag_seconds": state.max_lag_seconds,
            "most_behind": [{"mailbox": m, "lag_seconds": round(lag)} for lag, m in lags[:5]],
        },
        "last_round": {
            "round": state.last_round,
            "completed_at": _iso(state.last_round_at),
            "last_mailbox_read_at": _iso(state.last_read_at),
        },
        "replicas": state.replicas,
        "leased_mailboxes": state.leased_mailboxes,
        "jobs": {
            name: {key: _iso(moment) for key, moment in times.items()}
            for name, times in state.jobs.items()
        },
    }


def last_sync_line(payload: dict[str, Any]) -> str:
    """The status line about sync rounds, from `status_payload`: the worker's last round,
    or the last `rapport run --once` when no worker round ran, and why nothing is read
    when every mailbox is ruled out."""
    last = payload["last_round"]
    read_at = last["last_mailbox_read_at"]
    if last["round"] is not None:
        line = f"Last sync round: {last['round']}, finished {last['completed_at'][:19]}"
        if read_at and _later(read_at, last["completed_at"]):
            line += f"; mailboxes read since, last at {read_at[:19]}"
    elif read_at:
        line = f"Last sync round: {read_at[:19]} (rapport run --once; no worker round yet)"
    else:
        line = "Last sync round: none yet"
    mailboxes = payload["mailboxes"]
    if mailboxes["total"] and all(status in NOT_SYNCED for status in mailboxes["by_status"]):
        line += "; no mailbox may be read now (rapport mailboxes list says why)"
    return line


def _later(moment: str, than: str) -> bool:
    return datetime.fromisoformat(moment) > datetime.fromisoformat(than)
