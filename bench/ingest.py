"""Benchmark: the first CRM ingest (every activity derived into interactions) against a bare read.

    python bench/ingest.py --interactions 1000000 --records 50000 --db postgres

Builds the store of bench/score.py (same population, COPY on PostgreSQL) on a
fresh database (not counted), then, in a fresh process so that its peak RSS
is the ingest's own:

(a) the first ingest: `storage.crm_ingest.ingest_crm_activities` on an empty
    interaction table, every activity read, derived, its parties matched, and
    the interactions written;
(b) the same ingest again at once (nothing changed: it must write nothing);

and, in this process, (c) a bare read of the CRM activity rows and their
party rows through the raw driver, for scale. `--profile FILE` writes a
cProfile of (a) to FILE. With PostgreSQL on this machine it also prints the
CPU seconds of (a)'s server backends (the connections it opened; the parallel
workers of an index build are not counted) and the load average around (a):
on a shared machine, the CPU and the load say how far the seconds can be trusted.
It also splits (a) into the parts of its own thread's statements (the helper
connections' derivation runs beside them) and the span in which it waits for
the helpers and copies their rows in: what is left over is Python and the
statements below one part's size.

Target (issue 21): (a) <= 15 s per 1M activities on PostgreSQL.
Prints figures and a verdict; asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.crm_population import NOW, seed_records  # noqa: E402
from bench.score import (  # noqa: E402
    RESULT_PREFIX,
    _memory_mib,
    _result_of,
    bare_read,
    load_activities,
)
from bench.stores import DEFAULT_POSTGRES_URL, drop_store, fresh_store  # noqa: E402
from storage.crm_bulk_sql import LEFT_TO_PYTHON  # noqa: E402
from storage.crm_ingest import ingest_crm_activities  # noqa: E402
from storage.engine import create_store_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402

TARGET_SECONDS_PER_MILLION = 15.0
# One database per run: two runs at once on a shared server must not drop each other's.
BENCH_DATABASE = f"rapport_bench_ingest_{os.getpid()}"
RETENTION_DAYS = 730  # the tick's default interaction window (compliance.retention)
# The parts of (a)'s own statements, each named by how its statement begins (the first match).
PARTS = (
    ("derive share 0 (temporary tables)", ("CREATE TEMP", "COPY RAPPORT_BULK", "ANALYZE")),
    ("insert share 0", ("INSERT INTO INTERACTION", "INSERT INTO CRM_ACTIVITY_DIGEST")),
    ("index builds, keys, foreign key", ("CREATE INDEX", "CREATE UNIQUE", "ALTER TABLE")),
    (
        "change log cleared, records pending",
        ("TRUNCATE CRM_ACTIVITY_CHANGE", "DELETE FROM CRM_ACTIVITY_CHANGE", "INSERT INTO TICK"),
    ),
    ("the helpers' outcomes", ("SELECT OUTCOME", "SELECT ID FROM RAPPORT_BULK_OUTCOME")),
)
INDEX_BUILDS = PARTS[2][0]
# No statement of (a)'s own thread copies the helpers' rows in (a COPY through the driver,
# waiting for them first): that is the span from its own share's last count to the first
# index build, less the few small statements in between (counted in their own parts).
OWN_SHARE_COUNTED = LEFT_TO_PYTHON
HANDOVER = "helpers awaited, their rows copied in"
OTHER = "other statements"


def measure(url: str, profile: str | None) -> dict[str, Any]:
    """(a) and (b) in this (fresh) process, with its peak RSS after (a)."""
    engine = create_store_engine(url)
    backends = _backends(engine)
    parts = _statement_parts(engine, threading.get_ident())
    not_before = NOW - timedelta(days=RETENTION_DAYS)
    profiler = cProfile.Profile()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    if profile:
        profiler.enable()
    first = ingest_crm_activities(engine, not_before=not_before, now=NOW)
    if profile:
        profiler.disable()
        profiler.dump_stats(profile)
    seconds = time.perf_counter() - started
    load_after = os.getloadavg()[0]
    backend_cpu = _cpu_seconds(backends)
    peak = _memory_mib("VmHWM")
    started = time.perf_counter()
    again = ingest_crm_activities(engine, not_before=not_before, now=NOW)
    again_seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "first": seconds,
        "peak_rss_mib": peak,
        "activities": first.activities,
        "added": first.counts.added,
        "in_sql": first.bulk,
        "problems": first.problems.count,
        "again": again_seconds,
        "again_written": again.counts.added + again.counts.updated + again.counts.removed,
        "again_incremental": again.incremental,
        "backend_cpu": backend_cpu,
        "backends": len(backends),
        "load": (load_before, load_after),
        "parts": dict(parts.seconds),
    }


class StatementParts:
    """Seconds of one thread's statements summed by PARTS (or "other statements"), and
    HANDOVER: the time from its own share counted to its first index build that no
    statement of its own took (waiting for the helpers, copying their rows in through
    the driver). The statements inside that span stay in their own parts: each second
    is counted once, so the parts and the rest add up to (a)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self._clock = clock
        self._began: float | None = None
        self._in_statements = 0.0  # seconds of every statement so far
        self._counted: tuple[float, float] | None = None  # (when, statements by then)

    def began(self) -> None:
        self._began = self._clock()

    def ended(self, statement: str) -> None:
        if self._began is None:
            return
        began, now, self._began = self._began, self._clock(), None
        name = _part(statement)
        self.seconds[name] += now - began
        if name == INDEX_BUILDS and self._counted and HANDOVER not in self.seconds:
            since, statements = self._counted
            self.seconds[HANDOVER] = began - since - (self._in_statements - statements)
        self._in_statements += now - began
        if statement.startswith(OWN_SHARE_COUNTED):
            self._counted = (now, self._in_statements)


def _part(statement: str) -> str:
    opening = " ".join(statement.split())[:60].upper()
    return next((name for name, starts in PARTS if opening.startswith(starts)), OTHER)


def _statement_parts(engine: Engine, thread: int) -> StatementParts:
    """The StatementParts of the statements `thread` runs on `engine`."""
    parts = StatementParts()

    def before(*_args: Any) -> None:
        if threading.get_ident() == thread:
            parts.began()

    def after(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.get_ident() == thread:
            parts.ended(statement)

    listen: Callable[..., None] = event.listen
    listen(engine, "before_cursor_execute", before)
    listen(engine, "after_cursor_execute", after)
    return parts


def _backends(engine: Engine) -> list[int]:
    """The server process ids of the connections `engine` opens (PostgreSQL)."""
    pids: list[int] = []
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _remember(connection: Any, _record: Any) -> None:
            pids.append(connection.info.backend_pid)

    return pids


def _cpu_seconds(pids: list[int]) -> float | None:
    """User + system CPU of these processes so far; None when the server is not local."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total if pids else None


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = fresh_store(args.db, args.postgres_url, Path(folder) / "ingest.db", BENCH_DATABASE)
        engine = create_store_engine(url)
        try:
            upgrade(engine)
            population = seed_records(engine, args.records, seed=args.seed)
            started = time.perf_counter()
            parties = load_activities(engine, population, args.interactions)
            print(f"(store built in {time.perf_counter() - started:.1f} s, not counted)")
            engine.dispose()
            read, rows = bare_read(engine, "SELECT * FROM crm_activity")
            read_parties, _ = bare_read(engine, "SELECT * FROM crm_activity_party")
            figures = _measure_in_subprocess(url, args.profile)
            _print(args, figures, read, read_parties, rows, parties)
        finally:
            engine.dispose()
            if args.db == "postgres":
                drop_store(args.postgres_url, BENCH_DATABASE)


def _measure_in_subprocess(url: str, profile: str | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure", "--url", url]
    if profile:
        command += ["--profile", profile]
    return _result_of(subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False))


def _line(label: str, value: float, unit: str = "s") -> None:
    print(f"{label + ', ' + unit:<56}{value:>10.2f}", flush=True)


def _print(
    args: argparse.Namespace,
    figures: dict[str, Any],
    read: float,
    read_parties: float,
    rows: int,
    parties: int,
) -> None:
    bare = read + read_parties
    first = figures["first"]
    _line("(a) first ingest", first)
    print(
        f"    {figures['activities']:,} activities ({figures['in_sql']:,} derived in SQL),"
        f" {figures['added']:,} interactions added, {figures['problems']:,} problems;"
        f" {first / bare:.1f}x the bare read (c)",
        flush=True,
    )
    if figures["backend_cpu"] is not None:
        _line(f"(a) CPU of its {figures['backends']} PostgreSQL backends", figures["backend_cpu"])
    print(
        f"    load average before and after (a): {figures['load'][0]:.2f}, {figures['load'][1]:.2f}"
    )
    for name, seconds in sorted(figures["parts"].items(), key=lambda part: -part[1]):
        _line(f"    (a) {name}", seconds)
    _line(
        "    (a) the rest: Python",
        first - sum(figures["parts"].values()),
    )
    _line("(a) peak RSS of the ingest's process", figures["peak_rss_mib"], "MiB")
    _line("(b) the same ingest again", figures["again"])
    print(
        f"    {figures['again_written']:,} interactions written"
        f" (incremental: {figures['again_incremental']})",
        flush=True,
    )
    _line(f"(c) bare read of {rows:,} activities and {parties:,} parties", bare)
    _line("(c) of which the activity rows", read)
    target = TARGET_SECONDS_PER_MILLION * args.interactions / 1_000_000
    verdict = "met" if first <= target else f"missed by {(first - target) * 1000:.0f} ms"
    print(f"target (a) first ingest <= {target:g} s: {args.db} {verdict}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--interactions", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=5_000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", help="write a cProfile of the first ingest here")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.measure:
        print(RESULT_PREFIX + json.dumps(measure(args.url, args.profile)), flush=True)
        return
    print(
        f"Rapport first-ingest benchmark: {args.interactions:,} CRM activities over "
        f"{args.records:,} records on {args.db}"
    )
    run(args)


if __name__ == "__main__":
    main()
