"""The Prometheus text exposition the worker serves (prometheus_client, a registry per service)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from prometheus_client import Counter, generate_latest

from storage.service_status import StoreState
from worker.service.metrics import ServiceMetrics

NOW = datetime(2026, 11, 10, 12, tzinfo=UTC)


def _page(metrics: ServiceMetrics) -> list[str]:
    return generate_latest(metrics.registry).decode().splitlines()


def _family(page: list[str], name: str) -> list[str]:
    """The family's HELP, TYPE and sample lines, in page order."""

    def named(line: str) -> bool:
        word = line.split(" ")[2] if line.startswith("#") else re.split(r"[{ ]", line)[0]
        return word in (name, f"{name}_count", f"{name}_sum")

    return [line for line in page if named(line)]


def _state(**mailboxes: int) -> StoreState:
    return StoreState(
        now=NOW,
        schema={},
        tenants=[{"id": "t-1", "consent": "granted"}],
        mailboxes_by_status=dict(mailboxes),
        lag_seconds={'id-"1"\\x': 12.5, "never": None},
        replicas=["w1", "w2"],
        leased_mailboxes=3,
    )


def test_counters_gauges_and_summaries_render_in_the_text_format() -> None:
    metrics = ServiceMetrics()
    metrics.pages.inc(3)
    metrics.pages.inc(2)
    metrics.scoring.observe(0.25)
    metrics.scoring.observe(0.5)
    metrics.apply_store_state(_state(ok=3))
    page = _page(metrics)

    assert _family(page, "rapport_sync_pages_total") == [
        "# HELP rapport_sync_pages_total Delta pages committed",
        "# TYPE rapport_sync_pages_total counter",
        "rapport_sync_pages_total 5.0",
    ]
    assert _family(page, "rapport_mailbox_sync_lag_seconds")[1:] == [
        "# TYPE rapport_mailbox_sync_lag_seconds gauge",
        'rapport_mailbox_sync_lag_seconds{mailbox="id-\\"1\\"\\\\x"} 12.5',
    ]
    assert _family(page, "rapport_scoring_seconds")[1:] == [
        "# TYPE rapport_scoring_seconds summary",
        "rapport_scoring_seconds_count 2.0",
        "rapport_scoring_seconds_sum 0.75",
    ]
    assert not [line for line in page if "_created" in line]


def test_counts_show_zero_from_the_first_scrape_and_gauges_only_once_known() -> None:
    page = _page(ServiceMetrics())

    for sample in (
        "rapport_sync_pages_total 0.0",
        "rapport_scoring_seconds_count 0.0",
        'rapport_sync_items_total{outcome="malformed"} 0.0',
        'rapport_scoring_runs_total{outcome="failed"} 0.0',
        'rapport_dataverse_rows_pulled_total{outcome="written"} 0.0',
        "rapport_dataverse_throttled_total 0.0",
        "rapport_database_up 0.0",
    ):
        assert sample in page
    assert not [line for line in page if line.startswith("rapport_sync_last_round_timestamp")]
    assert not [line for line in page if line.startswith("rapport_mailboxes ")]


def test_a_counter_only_goes_up_and_names_are_unique() -> None:
    metrics = ServiceMetrics()
    with pytest.raises(ValueError, match="non-negative"):
        metrics.pages.inc(-1)
    with pytest.raises(ValueError, match="Duplicated"):
        Counter("rapport_sync_pages_total", "again", registry=metrics.registry)


def test_each_service_counts_in_a_registry_of_its_own() -> None:
    first, second = ServiceMetrics(), ServiceMetrics()
    first.pages.inc(4)

    assert first.value("rapport_sync_pages_total") == 4
    assert second.value("rapport_sync_pages_total") == 0


def test_a_gauge_family_replaced_as_a_whole_drops_vanished_series() -> None:
    metrics = ServiceMetrics()
    metrics.apply_store_state(_state(ok=3, syncing=1))
    metrics.apply_store_state(_state(ok=4))

    assert 'rapport_mailboxes{status="syncing"}' not in "\n".join(_page(metrics))
    assert metrics.value("rapport_mailboxes", status="ok") == 4
    assert metrics.value("rapport_replicas_live") == 2
    assert metrics.value("rapport_database_up") == 1


def test_an_unreadable_store_keeps_the_last_reading_and_says_so() -> None:
    metrics = ServiceMetrics()
    metrics.apply_store_state(_state(ok=3))
    metrics.store_unreadable()

    assert metrics.value("rapport_database_up") == 0
    assert metrics.value("rapport_mailboxes", status="ok") == 3


def test_dataverse_runs_add_their_requests_throttles_and_rows() -> None:
    costs = {"requests": 7, "retries": 2, "throttles": 1, "throttled_seconds": 1.5}
    table = {"written": 40, "unchanged": 5, "deleted": 1, "skipped": 2, "pages": 2}
    report = {"pushed": 30, "cleared": 1, "failed": 0, "unchanged": 9}
    summary = {
        "pull": {"tables": {"accounts": table, "contacts": table}},
        "pull_requests": costs,
        "push": report,
        "push_requests": costs,
    }
    metrics = ServiceMetrics()
    metrics.observe_dataverse(None)
    metrics.observe_dataverse({"failure": "pull: Dataverse unreachable"})
    metrics.observe_dataverse(summary)
    metrics.observe_dataverse({"switched_off": {"push": report, "push_requests": costs}})

    assert metrics.value("rapport_dataverse_requests_total") == 21
    assert metrics.value("rapport_dataverse_throttled_total") == 3
    assert metrics.value("rapport_dataverse_throttled_seconds_total") == 4.5
    assert metrics.value("rapport_dataverse_retries_total") == 6
    assert metrics.value("rapport_dataverse_rows_pulled_total", outcome="written") == 80
    assert metrics.value("rapport_dataverse_rows_pulled_total", outcome="skipped") == 4
    assert metrics.value("rapport_dataverse_records_pushed_total", outcome="pushed") == 60
    assert metrics.value("rapport_dataverse_records_pushed_total", outcome="cleared") == 2
