"""Benchmark: CRM activities -> interactions -> health written back, against a bare read.

    python bench/score.py --interactions 1000000 --records 50000 --db postgres
    python bench/score.py --size 10m --db postgres   # 10M interactions, 500k records

Each database runs in its own subprocess (so peak RSS is that database's) on a
fresh store: SQLite in a temporary directory, PostgreSQL in a database
`rapport_bench` created anew on the server named by --postgres-url. Activity
is heavy-tailed (Pareto weights): a few very busy relationships, many quiet
ones, some that stopped months ago. Generating and loading the CRM rows is
timed but not counted. Prints figures; asserts nothing.

Targets (issue 21): a full regrade (load + score + write back) within 2x the
time of a bare read of the same rows, and within 60 s at 10M interactions
(6 s per 1M) on PostgreSQL.

(a), (b) and (d) are the pipeline's own first run and a run after it with
nothing new, alone in a fresh process (peak RSS: that process's, and its
largest forked scoring child's). (e) sets the scoring cores side by side
(`--core reference|columnar|both`, default both): each regrades the book
alone in a fresh process (load, score every record, write every record back
into a store whose health was cleared), timed against the bare read (c) of
the same run, with its own peak RSS; with both, how many records they score
differently. The run itself scores with the columnar core.

To set another checkout's reference core beside this one's columnar core (an
earlier commit in a git worktree, say), point (e) at it:

    git worktree add --detach /tmp/earlier <commit>
    python bench/score.py --interactions 1000000 --records 50000 --db postgres \
        --reference-checkout /tmp/earlier

(Issue 21 compared the pure columnar core with the reference compiled by mypyc
this way, in a checkout of 44ee5b1 built with `RAPPORT_USE_MYPYC=1 python
setup.py build_ext --inplace`; the compilation was retired after it.)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import pickle
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

import scoring.tally  # noqa: E402
from bench.crm_population import NOW, Population, activity_batches, seed_records  # noqa: E402
from bench.stores import DEFAULT_POSTGRES_URL, drop_store, fresh_store  # noqa: E402
from scoring import ScoringRun  # noqa: E402
from scoring.columnar import ColumnarRun  # noqa: E402
from scoring.model import RecordHealth  # noqa: E402
from storage.crm_records import load_crm_snapshot  # noqa: E402
from storage.engine import create_store_engine, session_scope  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.writeback import HEALTH_COLUMNS, RECORD_TABLES, write_back  # noqa: E402
from worker.admin_settings import current_settings, scoring_settings  # noqa: E402
from worker.run.gc_pause import collection_paused  # noqa: E402
from worker.run.interaction_columns import read_columns  # noqa: E402
from worker.run.interactions import decode_interactions, fetch_interaction_rows  # noqa: E402
from worker.run.results import to_results  # noqa: E402
from worker.run.scopes import build_scopes, display_names  # noqa: E402
from worker.run.tick import run_once  # noqa: E402

CORES = ("reference", "columnar")
BENCH_DATABASE = f"rapport_bench_{os.getpid()}"  # two runs at once never collide
RESULT_PREFIX = "BENCH-RESULT "
TARGET_SECONDS_PER_MILLION, TARGET_RATIO = 6.0, 2.0
SIZES = {"1m": (1_000_000, 50_000), "10m": (10_000_000, 500_000)}  # interactions, records
# The bare read of (c): the very rows the scoring read fetches (storage.crm_records),
# each interaction with the packed copy of its parties.
INTERACTION_COLUMNS = (
    "key, kind, direction, occurred_at, duration_minutes, conversation_id, "
    "regarding_type, regarding_id, planned, opens, clicks, parties, party_count"
)
PARTY_COLUMNS = "interaction_key, record_type, record_id, role, side, response"


def _copy_rows(cursor: Any, table: str, columns: str, lines: list[str]) -> None:
    # COPY text format: the generator never produces tabs, newlines or backslashes.
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write("".join(lines))


def load_activities(engine: Engine, population: Population, interactions: int) -> int:
    """Bulk-load crm_activity + crm_activity_party; COPY on PostgreSQL. Returns party rows."""
    parties = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        postgres = engine.dialect.name == "postgresql"
        for batch in activity_batches(population, interactions, postgres=postgres):
            parties += len(batch.parties)
            if postgres:
                _copy_rows(cursor, "crm_activity", batch.activity_columns, batch.activity_lines())
                _copy_rows(cursor, "crm_activity_party", batch.party_columns, batch.party_lines())
            else:
                cursor.executemany(batch.activity_insert(), batch.activities)
                cursor.executemany(batch.party_insert(), batch.parties)
        if postgres:
            cursor.execute("ANALYZE")  # as a long-lived CRM database would be
        raw.commit()
    finally:
        raw.close()
    return parties


def bare_read(engine: Engine, query: str) -> tuple[float, int]:
    """Seconds to fetch all rows of `query` into Python tuples through the raw driver."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        cursor.execute(query)
        rows = cursor.fetchall()
        return time.perf_counter() - started, len(rows)
    finally:
        raw.close()


def scoring_build() -> str:
    """Whether the scoring modules run as Python (every build since issue 21) or
    compiled (a checkout of an earlier commit built with mypyc, for comparison)."""
    return "mypyc" if Path(scoring.tally.__file__ or "").suffix == ".so" else "python"


def machine_calibration() -> tuple[float, float]:
    """(seconds for a Python loop adding 10 million integers, seconds to visit 2 million
    small tuples in random order): how fast this machine's CPU and memory are
    today, so that figures from different days on a shared host compare."""
    started = time.perf_counter()
    total = 0
    for number in range(10_000_000):
        total += number
    arithmetic = time.perf_counter() - started
    rows = [(number, float(number)) for number in range(2_000_000)]
    random.Random(7).shuffle(rows)
    started = time.perf_counter()
    for row in rows:
        total += row[0]
    return arithmetic, time.perf_counter() - started


def pipeline_figures(url: str, processes: int) -> dict[str, Any]:
    """(a), (b), (d): the first run of the pipeline on the new store and a run with
    nothing new after it, alone in this fresh process, with this process's peak
    RSS and its scoring children's over the first run."""
    engine = create_store_engine(url)
    summary = run_once(engine, now=NOW, processes=processes)
    peak = _memory_mib("VmHWM")
    # Linux reports ru_maxrss in KiB; these children are the run's forked scoring processes.
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    steady = time.perf_counter()
    again = run_once(engine, now=NOW, processes=processes)
    steady = time.perf_counter() - steady
    engine.dispose()
    return {
        "ingest": summary.seconds["ingest"],
        "load": summary.seconds["load"],
        "score_and_write": summary.seconds["score_and_write"],
        "introducers": summary.seconds.get("introducers", 0.0),
        "steady": steady,
        "steady_written": again.writeback.kpis_written + again.writeback.records_updated,
        "interactions": summary.interactions,
        "records_scored": summary.records_scored,
        "peak_rss_mib": peak,
        "peak_rss_children_mib": children,
    }


def measure_pipeline(url: str, processes: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure-run", "--url", url]
    command += ["--processes", str(processes)]
    return _result_of(subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False))


def _result_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(done.args[1:3])} failed (exit {done.returncode})")
    line = next(x for x in done.stdout.splitlines() if x.startswith(RESULT_PREFIX))
    figures: dict[str, Any] = json.loads(line.removeprefix(RESULT_PREFIX))
    return figures


def forget_health(engine: Engine) -> None:
    """The store as before any run wrote health: each core then writes every record."""
    with engine.begin() as connection:
        for name in ("relationship_kpi", "health_snapshot"):
            connection.execute(sa.text(f"DELETE FROM {name}"))
        for table in RECORD_TABLES.values():
            connection.execute(sa.update(table).values(dict.fromkeys(HEALTH_COLUMNS)))


class _Timed:
    """An iterator's items, with the seconds spent producing them (scoring's share of a
    streamed regrade: the write-back consumes the results as they come)."""

    def __init__(self, items: Iterator[Any]) -> None:
        self.items, self.seconds, self.cpu = items, 0.0, 0.0

    def __iter__(self) -> Iterator[Any]:
        while True:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                item = next(self.items)
            except StopIteration:
                self._add(started, cpu)
                return
            self._add(started, cpu)
            yield item

    def _add(self, started: float, cpu: float) -> None:
        self.seconds += time.perf_counter() - started
        self.cpu += time.process_time() - cpu


def measure_core(core: str, url: str, out: Path) -> dict[str, Any]:
    """(e) One scoring core, alone in this process, in one process: a full regrade, i.e.
    load the book, score every record and write every record back (into a store
    whose health was cleared first), the results streamed to the write-back as the
    run streams them; each result is also pickled to `out`, one after the other."""
    engine = create_store_engine(url)
    forget_health(engine)
    with session_scope(engine) as session:
        crm = load_crm_snapshot(session=session, now=NOW)
    values = current_settings(engine)
    scopes, names = list(build_scopes(crm)), display_names(crm)
    settings = scoring_settings(values)
    before = _memory_mib("VmHWM")
    # The garbage collector paused as a tick pauses it for its whole run (worker.run.tick):
    # its passes over the book's objects are not what a regrade costs in the service.
    with collection_paused():
        started, cpu_started = time.perf_counter(), time.process_time()
        results: Iterator[RecordHealth]
        if core == "reference":
            interactions = decode_interactions(engine, fetch_interaction_rows(engine))
            loaded, cpu_loaded = time.perf_counter(), time.process_time()
            through_read = _memory_mib("VmHWM")
            results = ScoringRun(interactions, settings, NOW, names).score(scopes)
        else:
            columns = read_columns(engine)
            loaded, cpu_loaded = time.perf_counter(), time.process_time()
            through_read = _memory_mib("VmHWM")
            results = ColumnarRun(columns, settings, NOW, names).score(scopes)
        show = bool(values["switch.show_health"])
        scored = _Timed(results)
        kept_for_later = [0.0, 0.0]  # seconds, CPU seconds: not the regrade's

        with out.open("wb") as kept:

            def written(health: RecordHealth) -> RecordHealth:
                started, cpu = time.perf_counter(), time.process_time()
                pickle.dump(plain(health), kept)
                kept_for_later[0] += time.perf_counter() - started
                kept_for_later[1] += time.process_time() - cpu
                return health

            healths = (written(health) for health in scored)
            write_back(engine, to_results(healths, show_health=show), now=NOW)
        written_at, cpu_written = time.perf_counter(), time.process_time()
    peak = _memory_mib("VmHWM")
    engine.dispose()
    return {
        "load": loaded - started,
        "score": scored.seconds,
        "write": written_at - loaded - scored.seconds - kept_for_later[0],
        # This process's CPU seconds (not the database server's): steadier than the
        # wall clock on a shared machine.
        "cpu": [
            cpu_loaded - cpu_started,
            scored.cpu,
            cpu_written - cpu_loaded - scored.cpu - kept_for_later[1],
        ],
        "peak_rss_mib": peak,
        "rss_before_mib": before,
        "rss_through_read_mib": through_read,
        "build": scoring_build(),
    }


def _memory_mib(field: str) -> float:
    """This process's VmHWM (peak) or VmRSS in MiB. Not ru_maxrss: Linux keeps that
    across fork and exec, so a child started by the big benchmark process would
    report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_core(core: str, url: str, out: Path, checkout: Path | None) -> dict[str, Any]:
    """(e) in a fresh process; `checkout`: run it from that checkout instead of this
    one (an earlier commit's, say)."""
    script = Path(__file__) if checkout is None else checkout / "bench" / "score.py"
    command = [sys.executable, str(script), "--measure-core", core, "--url", url, "--out", str(out)]
    env = dict(os.environ)
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    return _result_of(
        subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False, env=env)
    )


def plain(value: Any) -> Any:
    """A result as builtins only (dataclass -> (field, value) pairs, enum -> its value),
    so that the compiled build's results, whose classes pickle differently from the
    pure ones, compare with the pure build's."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple((f.name, plain(getattr(value, f.name))) for f in dataclasses.fields(value))
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return tuple(plain(item) for item in value)
    return value


def _kept(path: Path) -> Iterator[Any]:
    with path.open("rb") as kept:
        while True:
            try:
                yield pickle.load(kept)  # noqa: S301 - written by this benchmark's own run
            except EOFError:
                return


# The equivalence tests' tolerance for floats (tests/scoring/test_columnar_equivalence.py):
# numpy's vectorised exp and power may differ from the C library's in the last bit.
FLOAT_TOLERANCE = 1e-9


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def differing_records(paths: list[Path]) -> tuple[int, int]:
    """How many records the two cores scored differently beyond the float tolerance,
    and how many not bit for bit ((0, 0): every one the same)."""
    reference, columnar = (list(_kept(path)) for path in paths)
    if len(reference) != len(columnar):
        most = max(len(reference), len(columnar))
        return most, most
    pairs = list(zip(reference, columnar, strict=True))
    return sum(1 for a, b in pairs if not _close(a, b)), sum(1 for a, b in pairs if a != b)


def _note(db: str, message: str) -> None:
    print(f"[{db}] {message}", file=sys.stderr, flush=True)


def run_database(db: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rapport-bench-") as workdir:
        url = fresh_store(db, args.postgres_url, Path(workdir) / "bench.db", BENCH_DATABASE)
        engine = create_store_engine(url)
        upgrade(engine)
        started = time.perf_counter()
        population = seed_records(engine, args.records, seed=args.seed)
        parties = load_activities(engine, population, args.interactions)
        generate = time.perf_counter() - started
        _note(db, f"CRM generated and loaded in {generate:.1f} s; running the pipeline")
        engine.dispose()
        run = measure_pipeline(url, args.processes)
        _note(db, "bare reads")
        read_interactions, rows = bare_read(
            engine, f"SELECT {INTERACTION_COLUMNS} FROM interaction"
        )
        read_parties, party_rows = bare_read(
            engine, f"SELECT {PARTY_COLUMNS} FROM interaction_party"
        )
        engine.dispose()
        cores = CORES if args.core == "both" else (args.core,)
        measured = {}
        for core in cores:
            _note(db, f"{core} core: load + score")
            checkout = args.reference_checkout if core == "reference" else None
            measured[core] = run_core(core, url, Path(workdir) / f"{core}.pickle", checkout)
        differing = (
            differing_records([Path(workdir) / f"{core}.pickle" for core in CORES])
            if len(cores) == 2
            else None
        )
        if db == "postgres":
            drop_store(args.postgres_url, BENCH_DATABASE)
    return {
        "db": db,
        "activities": args.interactions,
        "activity_parties": parties,
        "records": population.records,
        "generate": generate,
        **run,
        "processes": args.processes,
        "read_interactions": read_interactions,
        "read_with_parties": read_interactions + read_parties,
        "interaction_rows": rows,
        "party_rows": party_rows,
        "calibration": machine_calibration(),
        "build": scoring_build(),
        "cores": measured,
        "differing": differing,
    }


def _mib(figures: dict[str, Any], name: str) -> str:
    """A figure in MiB, or '-' when the run measured none (an earlier checkout's)."""
    return f"{figures[name]:8.0f} MiB" if name in figures else f"{'-':>8}"


def _rate(count: int, seconds: float) -> str:
    return f"{seconds:8.2f} s {count / seconds if seconds else 0:>11,.0f}/s"


class Headline(NamedTuple):
    """The figures the targets are about: (b), (b) per 1M interactions, (b) / (c)."""

    scored: float
    per_million: float
    ratio: float


def headline(result: dict[str, Any]) -> Headline:
    scored = result["load"] + result["score_and_write"]
    return Headline(
        scored,
        scored * 1_000_000 / max(result["interactions"], 1),
        scored / result["read_interactions"],
    )


def figure_lines(result: dict[str, Any]) -> list[tuple[str, str]]:
    n = result["interactions"]
    scored, per_million, ratio = headline(result)
    with_parties = result["read_with_parties"]
    return [
        (
            "crm activities / party rows",
            f"{result['activities']:,} / {result['activity_parties']:,}",
        ),
        ("interactions / records scored", f"{n:,} / {result['records_scored']:,}"),
        ("generate + load CRM (not counted)", f"{result['generate']:8.2f} s"),
        ("(a) ingest: activities -> interactions", _rate(result["activities"], result["ingest"])),
        ("(b) load", _rate(n, result["load"])),
        ("(b) score + write back", _rate(n, result["score_and_write"])),
        ("(b) load + score + write back", _rate(n, scored)),
        ("    who knows whom (after (b))", f"{result['introducers']:8.2f} s"),
        ("(d) steady tick: nothing changed", f"{result['steady']:8.2f} s"),
        ("    rows written by (d)", f"{result['steady_written']:,}"),
        ("(c) bare read: the rows scoring reads", _rate(n, result["read_interactions"])),
        ("    bare read: + every interaction_party", _rate(n, with_parties)),
        ("ratio (b) / (c) (target)", f"{ratio:8.1f} x"),
        ("ratio (b) / (c) + interaction_party", f"{scored / with_parties:8.1f} x"),
        ("(b) projected to 1M interactions", f"{per_million:8.2f} s"),
        ("peak RSS of the run (first run)", f"{result['peak_rss_mib']:8.0f} MiB"),
        *core_lines(result),
        ("peak RSS of a scoring child (first run)", f"{result['peak_rss_children_mib']:8.0f} MiB"),
        ("scoring modules run as", f"{result['build']:>8}"),
        ("machine: 10M integer additions in Python", f"{result['calibration'][0]:8.2f} s"),
        ("machine: 2M tuples visited in random order", f"{result['calibration'][1]:8.2f} s"),
    ]


def core_lines(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(e) Each scoring core alone, one process: a full regrade (load + score + write back)."""
    n, bare = result["interactions"], result["read_interactions"]
    lines = []
    for core, figures in result["cores"].items():
        both = figures["load"] + figures["score"]
        regrade = both + figures["write"]
        lines += [
            (f"(e) {core} ({figures['build']}): load", _rate(n, figures["load"])),
            (f"(e) {core}: score", _rate(n, figures["score"])),
            (f"(e) {core}: write back", _rate(n, figures["write"])),
            (f"(e) {core}: load + score", _rate(n, both)),
            (f"(e) {core}: load + score + write back", _rate(n, regrade)),
            (f"(e) {core}: regrade / bare read (c)", f"{regrade / bare:8.1f} x"),
            (
                f"(e) {core}: CPU of load / score / write",
                "/".join(f"{seconds:.1f}" for seconds in figures["cpu"]) + " s",
            ),
            (
                f"(e) {core}: peak RSS (before the book)",
                f"{figures['peak_rss_mib']:5.0f} ({figures['rss_before_mib']:.0f}) MiB",
            ),
            # The peak up to the end of the read: the rest of the peak is the scoring's
            # and the write-back's.
            (f"(e) {core}: peak RSS through the read", _mib(figures, "rss_through_read_mib")),
        ]
    if len(result["cores"]) == 2:
        times = {
            core: figures["load"] + figures["score"] + figures["write"]
            for core, figures in result["cores"].items()
        }
        lines += [
            (
                "(e) columnar / reference, regrade",
                f"{times['columnar'] / times['reference']:8.2f} x",
            ),
            (
                "(e) records scored differently (beyond 1e-9)",
                f"{result['differing'][0]:,}",
            ),
            ("(e) records not the same bit for bit", f"{result['differing'][1]:,}"),
        ]
    return lines


def print_table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"Rapport scoring benchmark: {args.interactions:,} CRM activities over "
        f"{args.records:,} records (seed {args.seed}, scoring processes {args.processes or 'auto'})"
    )
    columns = [dict(figure_lines(result)) for result in results]
    labels = [label for label, _value in figure_lines(results[0])]
    width = max(map(len, labels)) + 2
    print(f"{'stage':<{width}}" + "".join(f"{r['db']:>26}" for r in results))
    for label in labels:
        print(f"{label:<{width}}" + "".join(f"{column[label]:>26}" for column in columns))
    print(
        f"targets: (b) <= {TARGET_SECONDS_PER_MILLION:.0f} s per 1M interactions on postgres; "
        f"(b) <= {TARGET_RATIO:.0f}x the bare read (c)"
    )
    for result in results:
        if result["db"] == "postgres":
            print(target_verdict(result))


def _against(value: float, target: float, unit: str) -> str:
    if value <= target:
        return f"met ({value:.1f}{unit})"
    return f"missed by {value - target:.1f}{unit} ({value:.1f}{unit}, {value / target:.2f} times)"


def target_verdict(result: dict[str, Any]) -> str:
    """How the PostgreSQL run compares with both targets, in one line."""
    _scored, per_million, ratio = headline(result)
    return (
        f"postgres: {TARGET_SECONDS_PER_MILLION:.0f} s per 1M "
        f"{_against(per_million, TARGET_SECONDS_PER_MILLION, ' s')}; "
        f"{TARGET_RATIO:.0f}x the bare read {_against(ratio, TARGET_RATIO, 'x')}"
    )


def run_in_subprocess(db: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--db",
        db,
        "--worker",
        "--interactions",
        str(args.interactions),
        "--records",
        str(args.records),
        "--seed",
        str(args.seed),
        "--postgres-url",
        args.postgres_url,
        "--processes",
        str(args.processes),
        "--core",
        args.core,
        *(
            ["--reference-checkout", str(args.reference_checkout)]
            if args.reference_checkout
            else []
        ),
    ]
    # stderr is left attached: progress notes and any traceback reach the terminal live.
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark on {db} failed (exit {done.returncode})")
    line = next(x for x in done.stdout.splitlines() if x.startswith(RESULT_PREFIX))
    result: dict[str, Any] = json.loads(line.removeprefix(RESULT_PREFIX))
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=20_000, help="CRM activities")
    parser.add_argument("--records", type=int, default=2_000, help="contacts+accounts+deals")
    parser.add_argument(
        "--size",
        choices=sorted(SIZES),
        help="the issue's book sizes: 1m (1M interactions, 50k records) or 10m (10M, 500k); "
        "sets --interactions and --records",
    )
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help=f"server to create {BENCH_DATABASE} on (any database name)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="scoring processes on PostgreSQL (RAPPORT_SCORING_PROCESSES; 0 = one per CPU)",
    )
    parser.add_argument(
        "--core",
        choices=(*CORES, "both"),
        default="both",
        help="(e): measure the reference scoring core, the columnar one, or both side by side",
    )
    parser.add_argument(
        "--reference-checkout",
        type=Path,
        help="(e): run the reference core from this checkout (an earlier commit's, say) "
        "beside this checkout's columnar core",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure-core", choices=CORES, help=argparse.SUPPRESS)
    parser.add_argument("--measure-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.size:
        args.interactions, args.records = SIZES[args.size]
    if args.interactions < 1 or args.records < 100:
        parser.error("--interactions must be >= 1 and --records >= 100")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.measure_run:
        print(RESULT_PREFIX + json.dumps(pipeline_figures(args.url, args.processes)))
        return
    if args.measure_core:
        print(RESULT_PREFIX + json.dumps(measure_core(args.measure_core, args.url, args.out)))
        return
    if args.worker:
        print(RESULT_PREFIX + json.dumps(run_database(args.db, args)))
        return
    databases = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    print_table([run_in_subprocess(db, args) for db in databases], args)


if __name__ == "__main__":
    main()
