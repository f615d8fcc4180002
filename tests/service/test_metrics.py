"""The Prometheus text exposition the worker serves."""

from __future__ import annotations

import pytest

from worker.metrics import Registry


def test_counters_gauges_and_summaries_render_in_the_text_format() -> None:
    registry = Registry()
    pages = registry.counter("rapport_sync_pages_total", "Delta pages committed")
    lag = registry.gauge("rapport_mailbox_sync_lag_seconds", "Lag")
    seconds = registry.summary("rapport_scoring_seconds", "Scoring")
    pages.inc(3)
    pages.inc(2)
    lag.set(12.5, mailbox='id-"1"\\x')
    seconds.observe(0.25)
    seconds.observe(0.5)

    assert registry.render().splitlines() == [
        "# HELP rapport_sync_pages_total Delta pages committed",
        "# TYPE rapport_sync_pages_total counter",
        "rapport_sync_pages_total 5",
        "# HELP rapport_mailbox_sync_lag_seconds Lag",
        "# TYPE rapport_mailbox_sync_lag_seconds gauge",
        'rapport_mailbox_sync_lag_seconds{mailbox="id-\\"1\\"\\\\x"} 12.5',
        "# HELP rapport_scoring_seconds Scoring",
        "# TYPE rapport_scoring_seconds summary",
        "rapport_scoring_seconds_sum 0.75",
        "rapport_scoring_seconds_count 2",
    ]


def test_a_counter_only_goes_up_and_names_are_unique() -> None:
    registry = Registry()
    counter = registry.counter("rapport_x_total", "x")
    with pytest.raises(ValueError, match="only goes up"):
        counter.inc(-1)
    with pytest.raises(ValueError, match="twice"):
        registry.gauge("rapport_x_total", "again")


def test_a_gauge_family_replaced_as_a_whole_drops_vanished_series() -> None:
    registry = Registry()
    mailboxes = registry.gauge("rapport_mailboxes", "by status")
    mailboxes.replace({(("status", "ok"),): 3, (("status", "syncing"),): 1})
    mailboxes.replace({(("status", "ok"),): 4})

    assert 'rapport_mailboxes{status="syncing"}' not in registry.render()
    assert mailboxes.value(status="ok") == 4
