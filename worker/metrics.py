"""Prometheus metrics in the text exposition format (0.0.4), without a client library.

prometheus-client is not a dependency; the worker needs counters, gauges and
summaries (sum and count) with labels, which fit in this module. Label
values are ids and states, never addresses, subjects or secrets.

A counter or summary declared without labels shows 0 from the first scrape, as
prometheus-client's do: a series that appears only at its first increment
makes `rate()` and `increase()` miss that increment, and an alert on "no
sample" cannot tell a quiet worker from a broken one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in labels) + "}"


def _format_value(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass
class Metric:
    name: str
    help: str
    kind: str  # counter | gauge | summary
    labels: tuple[str, ...] = ()  # the label names its series carry; () = one series
    samples: dict[Labels, float] = field(default_factory=dict)
    counts: dict[Labels, int] = field(default_factory=dict)  # summaries only
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0 and self.kind == "counter":
            raise ValueError(f"{self.name}: a counter only goes up")
        key = tuple(sorted(labels.items()))
        with self._lock:
            self.samples[key] = self.samples.get(key, 0.0) + amount

    def set(self, value: float, **labels: str) -> None:
        with self._lock:
            self.samples[tuple(sorted(labels.items()))] = value

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self.samples[key] = self.samples.get(key, 0.0) + value
            self.counts[key] = self.counts.get(key, 0) + 1

    def replace(self, values: dict[Labels, float]) -> None:
        """A gauge family set as a whole (series that vanished are dropped)."""
        with self._lock:
            self.samples = dict(values)

    def value(self, **labels: str) -> float:
        return self.samples.get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        with self._lock:
            items = sorted(self.samples.items())
            counts = dict(self.counts)
        if not items and not self.labels and self.kind != "gauge":
            # A gauge has no honest zero (a timestamp of 0 is 1970); a count has.
            items, counts = [((), 0.0)], {(): 0}
        for labels, value in items:
            if self.kind == "summary":
                lines.append(f"{self.name}_sum{_format_labels(labels)} {_format_value(value)}")
                lines.append(f"{self.name}_count{_format_labels(labels)} {counts[labels]}")
            else:
                lines.append(f"{self.name}{_format_labels(labels)} {_format_value(value)}")
        return lines


class Registry:
    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}

    def _add(self, name: str, help: str, kind: str, labels: tuple[str, ...] = ()) -> Metric:
        if name in self._metrics:
            raise ValueError(f"metric {name} registered twice")
        metric = Metric(name, help, kind, labels)
        self._metrics[name] = metric
        return metric

    def counter(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Metric:
        return self._add(name, help, "counter", labels)

    def gauge(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Metric:
        return self._add(name, help, "gauge", labels)

    def summary(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Metric:
        return self._add(name, help, "summary", labels)

    def render(self) -> str:
        return "\n".join(line for m in self._metrics.values() for line in m.render()) + "\n"
