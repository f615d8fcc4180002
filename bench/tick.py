"""Benchmark: what a scheduled tick costs when little changed (issue 21, item 1).

    python bench/tick.py --interactions 1000000 --records 50000 --db postgres

Builds the store of bench/score.py (same population, COPY on PostgreSQL) on a
fresh database, runs a first tick (every activity derived, every record
scored; timed, not a target), then times, each as `worker.run.tick.run_once`
with the default RAPPORT_REGRADE_EVERY:

(a) a tick five minutes later with nothing new;
(b) a tick after 1 % of the activities changed (half with one more email
    open, half moved an hour earlier), as a CRM's edits arrive, and the same
    after another 1 % changed with no book kept (`rapport run --once`);
(c) a full regrade (`full=True`: every activity read, every record scored);
(d) a bare read of the interaction rows scoring reads, for scale;
(e) a tick after 1 % of the contacts changed (half renamed, half moved to
    another account): logged by row (migration 0014), so the tick derives
    again only the activities naming them and scores the records they feed
    (it was a full CRM pass and a regrade).

The ticks keep the book between them as `rapport worker` does
(RAPPORT_KEEP_BOOK, worker.run.book_cache), but the one marked otherwise.
Each tick's detail line says how many records it scored from how many
interactions (an incremental tick reads only those its records need), how
the kept book was read, and its stages (read and index are part of
score_and_write); `--profile N` prints tick (b)'s N costliest calls (cProfile).

Targets: (a) <= 2 s and (b) <= 5 s at 1M interactions on PostgreSQL.
Prints figures and a verdict per target; asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.engine import Engine  # noqa: E402

from bench.crm_population import NOW, seed_records  # noqa: E402
from bench.score import INTERACTION_COLUMNS, bare_read, load_activities  # noqa: E402
from bench.stores import DEFAULT_POSTGRES_URL, drop_store, fresh_store  # noqa: E402
from storage.engine import create_store_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from worker.run.book_cache import KeptBook  # noqa: E402
from worker.run.tick import RunSummary, run_once  # noqa: E402

TARGETS = {"(a) tick, nothing new": 2.0, "(b) tick, 1 % of activities changed": 5.0}
BENCH_DATABASE = "rapport_bench_tick"


def change_activities(engine: Engine, share: float, *, seed: int) -> int:
    """Edit `share` of the activities as a CRM would; how many were edited."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT id FROM crm_activity")
        ids = sorted(row[0] for row in cursor.fetchall())
        chosen = random.Random(seed).sample(ids, max(1, int(len(ids) * share)))
        opened, moved = chosen[::2], chosen[1::2]
        mark = "%s" if engine.dialect.name == "postgresql" else "?"
        cursor.executemany(
            f"UPDATE crm_activity SET opens = opens + 1 WHERE id = {mark}", [(i,) for i in opened]
        )
        earlier = (
            "start_at = start_at - interval '1 hour', end_at = end_at - interval '1 hour'"
            if engine.dialect.name == "postgresql"
            else "start_at = datetime(start_at, '-1 hour'), end_at = datetime(end_at, '-1 hour')"
        )
        cursor.executemany(
            f"UPDATE crm_activity SET {earlier} WHERE id = {mark}", [(i,) for i in moved]
        )
        raw.commit()
    finally:
        raw.close()
    return len(chosen)


def change_contacts(engine: Engine, share: float, *, seed: int) -> int:
    """Rename half of `share` of the contacts, move the other half to another account."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT id, account_id FROM contact ORDER BY id")
        contacts = cursor.fetchall()
        accounts = sorted({account for _, account in contacts if account})
        draw = random.Random(seed)
        chosen = draw.sample(contacts, max(1, int(len(contacts) * share)))
        mark = "%s" if engine.dialect.name == "postgresql" else "?"
        cursor.executemany(
            f"UPDATE contact SET full_name = full_name || ' Jr' WHERE id = {mark}",
            [(contact_id,) for contact_id, _ in chosen[::2]],
        )
        cursor.executemany(
            f"UPDATE contact SET account_id = {mark} WHERE id = {mark}",
            [(draw.choice(accounts), contact_id) for contact_id, _ in chosen[1::2]],
        )
        raw.commit()
    finally:
        raw.close()
    return len(chosen)


def _timed(engine: Engine, profile: int = 0, **options: object) -> tuple[float, RunSummary]:
    """Run a tick; `profile` > 0 prints that many of its costliest calls (cProfile)."""
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    summary = run_once(engine, **options)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(profile)
    return seconds, summary


def _line(label: str, seconds: float, summary: RunSummary | None = None) -> None:
    """A figure line ends in its number; what the tick did goes on the line after."""
    print(f"{label + ', s':<48}{seconds:>9.2f}", flush=True)
    if summary is not None:
        print(
            f"    scoring {summary.scoring}: {summary.ingest.derived:,} activities derived,"
            f" {summary.records_scored:,} records scored from {summary.interactions:,}"
            f" interactions; book {summary.book or 'not read'}; "
            + ", ".join(f"{stage} {value:.2f} s" for stage, value in summary.seconds.items()),
            flush=True,
        )


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = fresh_store(args.db, args.postgres_url, Path(folder) / "tick.db", BENCH_DATABASE)
        engine = create_store_engine(url)
        try:
            upgrade(engine)
            population = seed_records(engine, args.records, seed=args.seed)
            started = time.perf_counter()
            load_activities(engine, population, args.interactions)
            print(f"(store built in {time.perf_counter() - started:.1f} s, not counted)")
            _measure(engine, args)
        finally:
            engine.dispose()
            if args.db == "postgres":
                drop_store(args.postgres_url, BENCH_DATABASE)


def _measure(engine: Engine, args: argparse.Namespace) -> None:
    options: dict[str, Any] = {"processes": args.processes, "book": KeptBook()}
    seconds, first = _timed(engine, now=NOW, **options)
    _line("first tick: everything derived and scored", seconds, first)
    seconds, steady = _timed(engine, now=NOW + timedelta(minutes=5), **options)
    _line("(a) tick, nothing new", seconds, steady)
    figures = {"(a) tick, nothing new": seconds}
    edited = change_activities(engine, 0.01, seed=args.seed)
    print(f"({edited:,} activities edited)")
    seconds, changed = _timed(engine, args.profile, now=NOW + timedelta(minutes=10), **options)
    _line("(b) tick, 1 % of activities changed", seconds, changed)
    figures["(b) tick, 1 % of activities changed"] = seconds
    edited = change_activities(engine, 0.01, seed=args.seed + 1)
    print(f"({edited:,} more activities edited)")
    alone = {**options, "book": None}
    seconds, unkept = _timed(engine, now=NOW + timedelta(minutes=10), **alone)
    _line("(b) the same, no book kept", seconds, unkept)
    seconds, full = _timed(engine, now=NOW + timedelta(minutes=10), full=True, **options)
    _line("(c) full regrade (full=True)", seconds, full)
    read, rows = bare_read(engine, f"SELECT {INTERACTION_COLUMNS} FROM interaction")
    _line(f"(d) bare read of {rows:,} interactions", read)
    edited = change_contacts(engine, 0.01, seed=args.seed)
    print(f"({edited:,} contacts edited)")
    seconds, contacts = _timed(engine, now=NOW + timedelta(minutes=15), **options)
    _line("(e) tick, 1 % of contacts changed", seconds, contacts)
    print("load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    for label, target in TARGETS.items():
        value = figures[label]
        verdict = "met" if value <= target else f"missed by {(value - target) * 1000:.0f} ms"
        print(f"target {label} <= {target:g} s: {args.db} {verdict}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=5_000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--profile", type=int, default=0, help="print this many costliest calls of tick (b)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(
        f"Rapport tick benchmark: {args.interactions:,} CRM activities over "
        f"{args.records:,} records on {args.db}"
    )
    run(args)


if __name__ == "__main__":
    main()
