"""The worker's metrics: what each job adds, and gauges read from the store on scrape."""

from __future__ import annotations

from datetime import datetime

from worker.metrics import Labels, Registry
from worker.run.exchange import ExchangeSummary
from worker.run.tick import RunSummary
from worker.service.status import StoreState

ITEM_OUTCOMES = ("added", "updated", "removed", "malformed")
SCORING_OUTCOMES = ("done", "skipped", "failed")


class ServiceMetrics:
    def __init__(self) -> None:
        r = self.registry = Registry()
        self.items = r.counter(
            "rapport_sync_items_total",
            "Graph items read, by outcome (added, updated, removed, malformed)",
            labels=("outcome",),
        )
        self.ingested = r.counter(
            "rapport_sync_items_ingested_total", "Interactions added or updated from Exchange"
        )
        self.pages = r.counter("rapport_sync_pages_total", "Delta pages committed")
        self.requests = r.counter("rapport_graph_requests_total", "Graph requests sent")
        self.throttled = r.counter(
            "rapport_graph_throttled_total", "Graph responses 429 (throttled) that were retried"
        )
        self.retries = r.counter("rapport_graph_retries_total", "Graph requests retried")
        self.mailbox_rounds = r.counter(
            "rapport_sync_mailbox_rounds_total",
            "Mailbox rounds run by this replica, by final status",
            labels=("status",),
        )
        self.rounds = r.summary(
            "rapport_sync_round_seconds", "Duration of this replica's sync rounds"
        )
        self.last_round = r.gauge(
            "rapport_sync_last_round_timestamp_seconds",
            "When this replica last finished a sync round (Unix time)",
        )
        self.scoring = r.summary("rapport_scoring_seconds", "Duration of scoring runs")
        self.scored = r.counter("rapport_records_scored_total", "CRM records scored")
        self.scoring_runs = r.counter(
            "rapport_scoring_runs_total",
            "Scoring runs, by outcome (done, skipped, failed)",
            labels=("outcome",),
        )
        self.retention = r.counter(
            "rapport_retention_deleted_total",
            "Rows deleted by retention, by table",
            labels=("table",),
        )
        self.watchdog = r.counter(
            "rapport_watchdog_resets_total",
            "Mailboxes reset by the watchdog after being stuck in syncing",
        )
        self.lag = r.gauge(
            "rapport_mailbox_sync_lag_seconds",
            "Time since the mailbox's last successful sync, per mailbox id",
            labels=("mailbox",),
        )
        self.mailboxes = r.gauge("rapport_mailboxes", "Mailboxes by status", labels=("status",))
        self.consent = r.gauge(
            "rapport_tenant_consent",
            "1 for the tenant's current consent state",
            labels=("state", "tenant"),
        )
        self.replicas = r.gauge("rapport_replicas_live", "Worker replicas with a live lease")
        self.leases = r.gauge("rapport_mailboxes_leased", "Mailboxes leased by any replica now")
        self.database_up = r.gauge(
            "rapport_database_up", "1 when the last store read on scrape succeeded"
        )
        # Outcomes from a fixed vocabulary show 0 from the start too, so that an alert
        # on increase(...{outcome="failed"}) sees the first failure.
        for outcome in ITEM_OUTCOMES:
            self.items.inc(0, outcome=outcome)
        for outcome in SCORING_OUTCOMES:
            self.scoring_runs.inc(0, outcome=outcome)

    def observe_round(self, exchange: ExchangeSummary | None, seconds: float, at: datetime) -> None:
        self.rounds.observe(seconds)
        self.last_round.set(at.timestamp())
        if exchange is None or exchange.tenant is None:
            return
        for mailbox in exchange.tenant.mailboxes:
            c = mailbox.counters
            self.mailbox_rounds.inc(status=mailbox.status)
            for outcome, count in zip(
                ITEM_OUTCOMES, (c.added, c.updated, c.removed, c.malformed), strict=True
            ):
                self.items.inc(count, outcome=outcome)
            self.ingested.inc(c.added + c.updated)
            self.pages.inc(c.pages)
            self.requests.inc(c.requests)
            self.throttled.inc(c.throttled)
            self.retries.inc(c.retries)
        directory = exchange.tenant.counters
        self.requests.inc(directory.requests)
        self.throttled.inc(directory.throttled)
        self.retries.inc(directory.retries)

    def observe_scoring(self, summary: RunSummary, seconds: float) -> None:
        self.scoring.observe(seconds)
        self.scored.inc(summary.records_scored)
        self.scoring_runs.inc(outcome="done")

    def apply_store_state(self, state: StoreState) -> None:
        self.lag.replace(
            {(("mailbox", m),): lag for m, lag in state.lag_seconds.items() if lag is not None}
        )
        self.mailboxes.replace({(("status", s),): n for s, n in state.mailboxes_by_status.items()})
        consent: dict[Labels, float] = {
            (("state", t["consent"]), ("tenant", t["id"])): 1.0 for t in state.tenants
        }
        self.consent.replace(consent)
        self.replicas.set(len(state.replicas))
        self.leases.set(state.leased_mailboxes)
        self.database_up.set(1)

    def render(self) -> str:
        return self.registry.render()
