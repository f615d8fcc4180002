"""Benchmark: the seller-insights commands on a scored store.

    python bench/insights.py --interactions 1000000 --records 50000 --db both

Builds a store with bench/score.py's generator (heavy-tailed activity over
contacts, accounts and deals), scores it once, then times, through the same
functions the CLI runs (store check included, process start-up not):

- `health list`: the open opportunities of the owner who has the most;
- `pipeline chart`: that owner's chart, data and SVG (and the PNG);
- `health timeline`: that owner's largest deal, and the busiest account;
- `deals similar`: that owner's largest deal against every scored won deal.

The generator's won deals were never open, so were never scored and would not
count as similar deals: they are scored as open deals, then closed (won, on a
date in the last year) and their closes recorded, as the worker does.

Each figure is the median of --repeat runs on a warm store. Targets at 1M
interactions (50k records): list <= 200 ms, chart <= 1 s, timeline <= 200 ms,
similar <= 500 ms.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bench.crm_population import NOW, seed_records  # noqa: E402
from bench.score import load_activities  # noqa: E402
from bench.stores import DEFAULT_POSTGRES_URL, drop_store, fresh_store  # noqa: E402
from insights.pipeline_chart_render import render  # noqa: E402
from insights.views import SortKey  # noqa: E402
from storage.engine import create_store_engine, session_scope  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.writeback import record_closes  # noqa: E402
from worker.cli import insights_commands  # noqa: E402
from worker.cli.context import CliContext  # noqa: E402
from worker.cli.deals import similar_payload  # noqa: E402
from worker.run.tick import run_once  # noqa: E402

BENCH_DATABASE = f"rapport_bench_insights_{os.getpid()}"
TARGETS_MS = {"list": 200.0, "chart": 1000.0, "timeline": 200.0, "similar": 500.0}


def note(db: str, message: str) -> None:
    """A progress line on stderr, apart from the figures."""
    print(f"[{db}] {message}", file=sys.stderr, flush=True)


def _median_ms(action: Callable[[], Any], repeat: int) -> float:
    action()  # warm: the first call imports and fills caches, as a long-lived CLI never is
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def subjects(engine: Engine) -> tuple[str, str, str, int]:
    """The owner with the most open deals, their largest deal, the busiest account."""
    with engine.connect() as connection:
        owner, deals = connection.execute(
            sa.text(
                "SELECT owner_id, count(*) FROM opportunity WHERE status = 'open' "
                "AND owner_id IS NOT NULL GROUP BY owner_id "
                "ORDER BY count(*) DESC, owner_id LIMIT 1"
            )
        ).one()
        deal = connection.execute(
            sa.text(
                "SELECT id FROM opportunity WHERE status = 'open' AND owner_id = :owner "
                "ORDER BY estimated_revenue DESC, id LIMIT 1"
            ),
            {"owner": owner},
        ).scalar_one()
        account = connection.execute(
            sa.text(
                "SELECT regarding_id FROM interaction WHERE regarding_type = 'account' "
                "GROUP BY regarding_id ORDER BY count(*) DESC, regarding_id LIMIT 1"
            )
        ).scalar()
        if account is None:
            account = connection.execute(sa.text("SELECT min(id) FROM account")).scalar_one()
    return owner, deal, account, deals


def date_deals(engine: Engine) -> None:
    """Give the generator's deals estimated close dates (it sets none): mostly in the
    next 180 days, one in ten in the past and one in ten without, as a CRM has them."""
    with engine.begin() as connection:
        ids = list(connection.execute(sa.text("SELECT id FROM opportunity ORDER BY id")).scalars())
        dates = []
        for number, deal in enumerate(ids):
            offset = None if number % 10 == 0 else -30 if number % 10 == 1 else number * 7 % 180
            close = None if offset is None else (NOW + timedelta(days=offset)).date()
            dates.append({"id": deal, "close": close})
        connection.execute(
            sa.text("UPDATE opportunity SET estimated_close_date = :close WHERE id = :id"), dates
        )


def open_won_deals(engine: Engine) -> list[str]:
    """Set the generator's won deals open, so the scoring run scores them; their ids."""
    with engine.begin() as connection:
        won = list(
            connection.execute(
                sa.text("SELECT id FROM opportunity WHERE status = 'won' ORDER BY id")
            ).scalars()
        )
        connection.execute(sa.text("UPDATE opportunity SET status = 'open' WHERE status = 'won'"))
    return won


def close_won_deals(engine: Engine, won: list[str]) -> int:
    """Close the deals `open_won_deals` opened, won on a day in the last year, and
    record their closes (KPIs and health as at close) as the worker's write-back does."""
    closes = [
        {"id": deal, "day": (NOW - timedelta(days=1 + number * 11 % 365)).date()}
        for number, deal in enumerate(won)
    ]
    if closes:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "UPDATE opportunity SET status = 'won', actual_close_date = :day WHERE id = :id"
                ),
                closes,
            )
    with session_scope(engine) as session:
        return record_closes(session=session, day=NOW.date())


def time_commands(db: str, url: str, repeat: int, workdir: Path) -> dict[str, Any]:
    os.environ["RAPPORT_DATABASE_URL"] = url
    cli = CliContext()  # the settings and store a command gets from the typer context
    engine = cli.current_store()
    owner, deal, account, deals = subjects(engine)
    note(db, f"owner {owner} has {deals} open opportunities")

    def listing() -> Any:
        return insights_commands.health_list(
            cli,
            record_type="opportunity",
            owner=owner,
            states=None,
            trends=None,
            open_only=True,
            at_risk=False,
            sort=SortKey.health,
            limit=50,
        )

    def chart(suffix: str) -> Callable[[], None]:
        def draw() -> None:
            data, _ = insights_commands.chart(cli, owner, NOW)
            render(data, workdir / f"chart.{suffix}", "Relationship pipeline")

        return draw

    figures = {
        "list": _median_ms(listing, repeat),
        "list_rows": len(listing()["rows"]),
        "chart": _median_ms(chart("svg"), repeat),
        "chart_png": _median_ms(chart("png"), repeat),
        "chart_data": _median_ms(lambda: insights_commands.chart(cli, owner, NOW), repeat),
        "bubbles": len(insights_commands.chart(cli, owner, NOW)[0].bubbles),
        "timeline": _median_ms(
            lambda: insights_commands.health_timeline(cli, f"opportunity:{deal}", 13, 100), repeat
        ),
        "timeline_account": _median_ms(
            lambda: insights_commands.health_timeline(cli, f"account:{account}", 13, 100), repeat
        ),
        "similar": _median_ms(lambda: similar_payload(engine, deal, NOW.date()), repeat),
        "similar_compared": similar_payload(engine, deal, NOW.date())["compared_with"],
    }
    cli.close()
    return figures


def build_store(db: str, url: str, args: argparse.Namespace) -> int:
    """Fill the empty store at `url` with the generated book, score it and close its won
    deals (so `deals similar` has some to compare); the number of interactions."""
    engine = create_store_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    population = seed_records(engine, args.records, seed=args.seed)
    load_activities(engine, population, args.interactions)
    date_deals(engine)
    won = open_won_deals(engine)
    summary = run_once(engine, now=NOW)
    closes = close_won_deals(engine, won)
    engine.dispose()
    note(
        db,
        f"store built and scored in {time.perf_counter() - started:.1f} s "
        f"({summary.interactions} interactions, {summary.records_scored} records, "
        f"{closes} won deals)",
    )
    return int(summary.interactions)


def run_database(db: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rapport-bench-insights-") as workdir:
        url = fresh_store(db, args.postgres_url, Path(workdir) / "bench.db", BENCH_DATABASE)
        interactions = build_store(db, url, args)
        try:
            upgrade(create_store_engine(url))  # a migration added while the store was built
            figures = time_commands(db, url, args.repeat, Path(workdir))
        finally:
            if db == "postgres":
                drop_store(args.postgres_url, BENCH_DATABASE)
    return {"db": db, "interactions": interactions, **figures}


def _verdict(value: float, target: float) -> str:
    return "met" if value <= target else f"missed by {value - target:.0f} ms"


def print_figures(
    results: list[dict[str, Any]],
    rows: Sequence[tuple[str, str]],
    targets: dict[str, float],
    *,
    width: int,
    counts: Sequence[tuple[str, int]] = (),
    measure: str = "",
) -> None:
    """One column of figures per database: `rows` (label, key), then each target's verdict
    (`measure`: what a target is of, e.g. " p95"); `counts` are the same for every column."""
    print(f"{'figure':<{width}}" + "".join(f"{r['db']:>14}" for r in results))
    print(f"{'interactions':<{width}}" + "".join(f"{r['interactions']:>14,}" for r in results))
    for label, count in counts:
        print(f"{label:<{width}}" + "".join(f"{count:>14}" for _ in results))
    for label, key in rows:
        print(f"{label:<{width}}" + "".join(f"{r[key]:>14.1f}" for r in results))
    for key, target in targets.items():
        verdicts = ", ".join(f"{r['db']} {_verdict(r[key], target)}" for r in results)
        print(f"target {key} <= {target:.0f} ms{measure} (at 1M interactions): {verdicts}")


def print_table(results: list[dict[str, Any]]) -> None:
    rows = (
        ("health list: one owner's open opportunities (ms)", "list"),
        ("    rows shown", "list_rows"),
        ("pipeline chart: data + SVG (ms)", "chart"),
        ("    data + PNG (ms)", "chart_png"),
        ("    data only (ms)", "chart_data"),
        ("    bubbles", "bubbles"),
        ("health timeline: the owner's largest deal (ms)", "timeline"),
        ("    the busiest account (ms)", "timeline_account"),
        ("deals similar: the owner's largest deal (ms)", "similar"),
        ("    won deals compared with", "similar_compared"),
    )
    print_figures(results, rows, TARGETS_MS, width=52)


def store_parser(
    doc: str | None, database: str, *, repeat: int, repeat_help: str
) -> argparse.ArgumentParser:
    """The options of a benchmark over a built, scored store (this one's and bench/web.py's):
    `doc`, its module docstring; `database`, the PostgreSQL database it creates."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--interactions", type=int, default=20_000, help="CRM activities")
    parser.add_argument("--records", type=int, default=2_000, help="contacts+accounts+deals")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES_URL, help=f"server to create {database} on"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=repeat, help=repeat_help)
    return parser


def check_store_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.interactions < 1 or args.records < 100 or args.repeat < 1:
        parser.error("--interactions and --repeat must be >= 1, --records >= 100")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = store_parser(__doc__, BENCH_DATABASE, repeat=5, repeat_help="timed runs per figure")
    args = parser.parse_args(argv)
    check_store_args(parser, args)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    databases = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    print_table([run_database(db, args) for db in databases])


if __name__ == "__main__":
    main()
