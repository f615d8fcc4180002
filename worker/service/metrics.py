"""The worker's Prometheus metrics, through prometheus_client, in a registry of its own.

Each `ServiceMetrics` has its own `CollectorRegistry` (never the library's global
one), so two services in one process, or two tests, never add to each other's
counters. What the jobs count is a prometheus_client counter or summary, added to
as each job ends; what the store says (mailboxes by status, lag, consent, live
replicas) is read on each scrape and handed to a custom collector, which reports
the latest reading (`StoreGauges`). Label values are ids and states, never
addresses, subjects or secrets.

A counter or summary without labels shows 0 from the first scrape, and so do the
fixed outcomes below: a series that appears only at its first increment makes
`rate()` and `increase()` miss that increment, and an alert on "no sample" cannot
tell a quiet worker from a broken one. A gauge has no honest zero (a timestamp of
0 is 1970): the last round's time, and the store's gauges, appear once known.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Summary, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from storage.service_status import StoreState
from worker.run.exchange import ExchangeSummary
from worker.run.tick import RunSummary

ITEM_OUTCOMES = ("added", "updated", "removed", "malformed")
SCORING_OUTCOMES = ("done", "skipped", "failed")
# A Dataverse run summary's counts (crm.dataverse.pull.TablePull, push.PushReport).
PULLED_OUTCOMES = ("written", "unchanged", "deleted", "skipped")
PUSHED_OUTCOMES = ("pushed", "cleared", "failed")

# The page is the text format 0.0.4 without the `_created` series prometheus_client
# adds to counters and summaries by default: the names stay those of the page it
# replaced, and Prometheus reads a counter's start from its resets anyway.
disable_created_metrics()  # type: ignore[no-untyped-call]


@dataclass(eq=False)  # registered in a registry: hashed by identity
class StoreGauges(Collector):
    """The gauges of the latest read of the store and of the last sync round; a
    series that vanished from the store (a deleted mailbox) vanishes from the page."""

    state: StoreState | None = None
    database_up: bool = False
    last_round_at: float | None = None

    def collect(self) -> Iterator[Metric]:
        if self.last_round_at is not None:
            yield _gauge(
                "rapport_sync_last_round_timestamp_seconds",
                "When this replica last finished a sync round (Unix time)",
                [((), self.last_round_at)],
            )
        state = self.state
        if state is not None:
            yield from _store_gauges(state)
        yield _gauge(
            "rapport_database_up",
            "1 when the last store read on scrape succeeded",
            [((), 1.0 if self.database_up else 0.0)],
        )


def _gauge(
    name: str, help: str, samples: list[tuple[tuple[str, ...], float]], labels: tuple[str, ...] = ()
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help, labels=labels)
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


def _store_gauges(state: StoreState) -> Iterator[Metric]:
    yield _gauge(
        "rapport_mailbox_sync_lag_seconds",
        "Time since the mailbox's last successful sync, per mailbox id",
        [((mailbox,), lag) for mailbox, lag in state.lag_seconds.items() if lag is not None],
        ("mailbox",),
    )
    yield _gauge(
        "rapport_mailboxes",
        "Mailboxes by status",
        [((status,), n) for status, n in state.mailboxes_by_status.items()],
        ("status",),
    )
    yield _gauge(
        "rapport_tenant_consent",
        "1 for the tenant's current consent state",
        [((t["consent"], t["id"]), 1.0) for t in state.tenants],
        ("state", "tenant"),
    )
    yield _gauge(
        "rapport_replicas_live", "Worker replicas with a live lease", [((), len(state.replicas))]
    )
    yield _gauge(
        "rapport_mailboxes_leased",
        "Mailboxes leased by any replica now",
        [((), state.leased_mailboxes)],
    )


class ServiceMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.items = Counter(
            "rapport_sync_items_total",
            "Graph items read, by outcome (added, updated, removed, malformed)",
            ["outcome"],
            registry=r,
        )
        self.ingested = Counter(
            "rapport_sync_items_ingested_total",
            "Interactions added or updated from Exchange",
            registry=r,
        )
        self.pages = Counter("rapport_sync_pages_total", "Delta pages committed", registry=r)
        self.requests = Counter("rapport_graph_requests_total", "Graph requests sent", registry=r)
        self.throttled = Counter(
            "rapport_graph_throttled_total",
            "Graph responses 429 (throttled) that were retried",
            registry=r,
        )
        self.retries = Counter("rapport_graph_retries_total", "Graph requests retried", registry=r)
        self.mailbox_rounds = Counter(
            "rapport_sync_mailbox_rounds_total",
            "Mailbox rounds run by this replica, by final status",
            ["status"],
            registry=r,
        )
        self.rounds = Summary(
            "rapport_sync_round_seconds", "Duration of this replica's sync rounds", registry=r
        )
        self.scoring = Summary("rapport_scoring_seconds", "Duration of scoring runs", registry=r)
        self.scored = Counter("rapport_records_scored_total", "CRM records scored", registry=r)
        self.scoring_runs = Counter(
            "rapport_scoring_runs_total",
            "Scoring runs, by outcome (done, skipped, failed)",
            ["outcome"],
            registry=r,
        )
        self.retention = Counter(
            "rapport_retention_deleted_total",
            "Rows deleted by retention, by table",
            ["table"],
            registry=r,
        )
        self.watchdog = Counter(
            "rapport_watchdog_resets_total",
            "Mailboxes reset by the watchdog after being stuck in syncing",
            registry=r,
        )
        self.dataverse = DataverseCounters(r)
        self.store = StoreGauges()
        r.register(self.store)
        # Outcomes from a fixed vocabulary show 0 from the start too, so that an alert
        # on increase(...{outcome="failed"}) sees the first failure.
        for outcome in ITEM_OUTCOMES:
            self.items.labels(outcome=outcome)
        for outcome in SCORING_OUTCOMES:
            self.scoring_runs.labels(outcome=outcome)

    def value(self, name: str, **labels: str) -> float:
        """A sample's value as the page shows it (0 when it has none yet)."""
        return self.registry.get_sample_value(name, labels) or 0.0

    def observe_round(self, exchange: ExchangeSummary | None, seconds: float, at: datetime) -> None:
        self.rounds.observe(seconds)
        self.store.last_round_at = at.timestamp()
        if exchange is None or exchange.tenant is None:
            return
        for mailbox in exchange.tenant.mailboxes:
            c = mailbox.counters
            self.mailbox_rounds.labels(status=mailbox.status).inc()
            for outcome, count in zip(
                ITEM_OUTCOMES, (c.added, c.updated, c.removed, c.malformed), strict=True
            ):
                self.items.labels(outcome=outcome).inc(count)
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
        self.scoring_runs.labels(outcome="done").inc()

    def observe_dataverse(
        self, summary: dict[str, Any] | None, parts: tuple[str, ...] | None = None
    ) -> None:
        """Add a run summary's `dataverse` (only its `parts`, when given) to the totals."""
        if summary is not None:
            self.dataverse.add(
                summary if parts is None else {k: v for k, v in summary.items() if k in parts}
            )

    def apply_store_state(self, state: StoreState) -> None:
        self.store.state, self.store.database_up = state, True

    def store_unreadable(self) -> None:
        """The store's gauges keep their last reading; `rapport_database_up` says 0."""
        self.store.database_up = False


class DataverseCounters:
    """The Dataverse connector's costs and rows, from each run summary's counts: the
    client's `Counters` (requests, retries, 429s) and the pull's and push's reports."""

    def __init__(self, r: CollectorRegistry) -> None:
        self.requests = Counter(
            "rapport_dataverse_requests_total", "Dataverse Web API requests sent", registry=r
        )
        self.throttles = Counter(
            "rapport_dataverse_throttled_total",
            "Dataverse responses 429 (service protection limits), retried after Retry-After",
            registry=r,
        )
        self.throttled_seconds = Counter(
            "rapport_dataverse_throttled_seconds_total",
            "Time Dataverse requests waited behind a 429's Retry-After",
            registry=r,
        )
        self.retries = Counter(
            "rapport_dataverse_retries_total", "Dataverse requests retried", registry=r
        )
        self.pulled = Counter(
            "rapport_dataverse_rows_pulled_total",
            "Dataverse rows read into the contract tables, by outcome "
            "(written, unchanged, deleted, skipped)",
            ["outcome"],
            registry=r,
        )
        self.pushed = Counter(
            "rapport_dataverse_records_pushed_total",
            "Records whose health was sent to Dataverse, by outcome (pushed, cleared, failed)",
            ["outcome"],
            registry=r,
        )
        for outcome in PULLED_OUTCOMES:
            self.pulled.labels(outcome=outcome)
        for outcome in PUSHED_OUTCOMES:
            self.pushed.labels(outcome=outcome)

    def add(self, summary: dict[str, Any]) -> None:
        for key in ("pull_requests", "push_requests"):
            if key in summary:
                costs = summary[key]
                self.requests.inc(costs["requests"])
                self.throttles.inc(costs["throttles"])
                self.throttled_seconds.inc(costs["throttled_seconds"])
                self.retries.inc(costs["retries"])
        for table in summary.get("pull", {}).get("tables", {}).values():
            for outcome in PULLED_OUTCOMES:
                self.pulled.labels(outcome=outcome).inc(table[outcome])
        if "push" in summary:
            for outcome in PUSHED_OUTCOMES:
                self.pushed.labels(outcome=outcome).inc(summary["push"][outcome])
        if "switched_off" in summary:  # the clearing of a connector switched off
            self.add(summary["switched_off"])
