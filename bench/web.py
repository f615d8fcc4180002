"""Benchmark: the insights web app's pages, served over HTTP on a scored store.

    python bench/web.py --interactions 1000000 --records 50000 --db postgres

Builds and scores a store as bench/insights.py does (bench/score.py's generator, deals
given close dates, won deals scored then closed), serves the real app (web.app.create_app)
with uvicorn on a loopback port, and requests, as the seller who owns the most open
deals (they see their own and their team's records):

- the portfolio page, filtered to that owner (`/portfolio?owner=...`, 200 rows at most);
- the record page of that owner's largest open deal;
- the pipeline page (their team's open deals), and a manager's pipeline (every open deal).

Server time is measured inside the server, from the request reaching the app to the
last part of its answer handed to uvicorn (an ASGI wrapper, so HTTP parsing and the
loopback are left out); the round trip a client sees is printed beside it. Each figure is the p95
of --repeat requests after one warm-up request. Targets at 1M interactions: portfolio
<= 300 ms, record page <= 300 ms, pipeline <= 500 ms (p95 server time).

To time a store again without building it: --keep prints the built store's URL and
leaves it; --store URL times that store (already built and scored by this script).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import uvicorn  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.types import ASGIApp, Message, Receive, Scope, Send  # noqa: E402

from bench.crm_population import NOW  # noqa: E402
from bench.insights import (  # noqa: E402
    build_store,
    check_store_args,
    note,
    print_figures,
    store_parser,
    subjects,
)
from bench.stores import drop_store, fresh_store  # noqa: E402
from storage.engine import create_store_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from web.app import create_app  # noqa: E402
from web.identity import Viewer  # noqa: E402

BENCH_DATABASE = f"rapport_bench_web_{os.getpid()}"
TARGETS_MS = {"portfolio": 300.0, "record": 300.0, "pipeline": 500.0, "pipeline_all": 500.0}
PAGES = ("portfolio", "record", "pipeline", "pipeline_all")


class ServerTimer:
    """ASGI wrapper: the time from a request reaching the app to its last body byte."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.last_ms = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            # Taken before the last body part is handed to uvicorn: after it, the client
            # may already have read the answer and the figure.
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last_ms = (time.perf_counter() - started) * 1000
            await send(message)

        await self.app(scope, receive, timed_send)


@contextmanager
def serving(app: ASGIApp) -> Iterator[httpx.Client]:
    """`app` served by uvicorn on 127.0.0.1 (a free port), in a thread; a client for it."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _p95(values: list[float]) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def _viewer_from_header(request: Request) -> Viewer:
    """The bench's identity seam: a manager when asked for, else the seller it names."""
    if request.headers.get("x-bench-manager"):
        return Viewer(system_user_id="bench-manager", name="Manager", is_manager=True)
    return Viewer(system_user_id=request.headers["x-bench-seller"], name="Seller")


def refresh_statistics(db: str, engine: Engine) -> None:
    """ANALYZE the store, as autovacuum does after a bulk load (the test server runs with
    autovacuum off): without statistics PostgreSQL takes relationship_kpi for a few
    hundred rows and reads every contact's KPIs to pick the 200 shown."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(sa.text("ANALYZE"))
    note(db, "planner statistics refreshed (ANALYZE)")


def time_pages(db: str, url: str, repeat: int) -> dict[str, Any]:
    engine = create_store_engine(url)
    refresh_statistics(db, engine)
    owner, deal, _account, deals = subjects(engine)
    note(db, f"seller {owner} owns {deals} open opportunities; their largest is {deal}")
    timer = ServerTimer(create_app(engine, _viewer_from_header, clock=lambda: NOW))
    seller = {"x-bench-seller": owner}
    requests: dict[str, tuple[str, dict[str, str]]] = {
        "portfolio": (f"/portfolio?owner={owner}", seller),
        "record": (f"/records/opportunity/{deal}", seller),
        "pipeline": ("/pipeline", seller),
        "pipeline_all": ("/pipeline", {"x-bench-manager": "1"}),
    }
    figures: dict[str, Any] = {}
    with serving(timer) as client:

        def get(path: str, headers: dict[str, str]) -> httpx.Response:
            answer = client.get(path, headers=headers)
            if answer.status_code != 200:
                raise SystemExit(f"GET {path}: {answer.status_code} {answer.text[:200]}")
            return answer

        for page, (path, headers) in requests.items():
            first = get(path, headers)  # warm: imports, caches, the store's pages
            server, trip = [], []
            for _ in range(repeat):
                started = time.perf_counter()
                get(path, headers)
                trip.append((time.perf_counter() - started) * 1000)
                server.append(timer.last_ms)
            figures[page] = _p95(server)
            figures[f"{page}_trip"] = _p95(trip)
            figures[f"{page}_kb"] = len(first.content) / 1024
        figures["portfolio_rows"] = get(f"/api/portfolio?owner={owner}", seller).text.count(
            '"record_id"'
        )
        figures["bubbles"] = len(get("/api/pipeline", seller).json()["bubbles"])
        figures["bubbles_all"] = len(
            get("/api/pipeline", {"x-bench-manager": "1"}).json()["bubbles"]
        )
    # On a shared machine the figures are only as good as the machine was idle.
    figures["load"] = os.getloadavg()[0]
    engine.dispose()
    return figures


def _interactions(url: str) -> int:
    engine = create_store_engine(url)
    with engine.connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM interaction")).scalar_one()
    engine.dispose()
    return int(count)


def run_database(db: str, args: argparse.Namespace) -> dict[str, Any]:
    if args.store:
        upgrade(create_store_engine(args.store))
        return {
            "db": db,
            "interactions": _interactions(args.store),
            **time_pages(db, args.store, args.repeat),
        }
    with tempfile.TemporaryDirectory(prefix="rapport-bench-web-") as workdir:
        sqlite_path = Path(args.keep_dir or workdir) / f"bench-web-{os.getpid()}.db"
        url = fresh_store(db, args.postgres_url, sqlite_path, BENCH_DATABASE)
        try:
            interactions = build_store(db, url, args)
            figures = time_pages(db, url, args.repeat)
        except BaseException:
            if db == "postgres":
                drop_store(args.postgres_url, BENCH_DATABASE)
            raise
        if args.keep:
            note(db, f"store kept: --store {url}")
        elif db == "postgres":
            drop_store(args.postgres_url, BENCH_DATABASE)
    return {"db": db, "interactions": interactions, **figures}


ROWS = (
    ("portfolio page, one owner: p95 server time (ms)", "portfolio"),
    ("    p95 round trip (ms)", "portfolio_trip"),
    ("    rows shown", "portfolio_rows"),
    ("    page size (KiB)", "portfolio_kb"),
    ("record page, the owner's largest deal: p95 server (ms)", "record"),
    ("    p95 round trip (ms)", "record_trip"),
    ("    page size (KiB)", "record_kb"),
    ("pipeline page, the owner's team: p95 server time (ms)", "pipeline"),
    ("    p95 round trip (ms)", "pipeline_trip"),
    ("    bubbles", "bubbles"),
    ("    page size (KiB)", "pipeline_kb"),
    ("pipeline page, a manager (all): p95 server time (ms)", "pipeline_all"),
    ("    p95 round trip (ms)", "pipeline_all_trip"),
    ("    bubbles", "bubbles_all"),
    ("    page size (KiB)", "pipeline_all_kb"),
    (f"machine load average after timing ({os.cpu_count()} CPUs)", "load"),
)


def print_table(results: list[dict[str, Any]], repeat: int) -> None:
    counts = (("requests timed per page", repeat),)
    print_figures(results, ROWS, TARGETS_MS, width=56, counts=counts, measure=" p95")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = store_parser(__doc__, BENCH_DATABASE, repeat=20, repeat_help="timed requests per page")
    parser.add_argument("--keep", action="store_true", help="leave the built store, print its URL")
    parser.add_argument(
        "--keep-dir", type=Path, default=None, help="with --keep: where the SQLite file goes"
    )
    parser.add_argument("--store", default=None, help="time this built store (no build)")
    args = parser.parse_args(argv)
    check_store_args(parser, args)
    if args.store and args.db == "both":
        parser.error("--store: one store, so --db sqlite or --db postgres")
    if args.keep and args.db == "sqlite" and args.keep_dir is None:
        parser.error("--keep with --db sqlite: --keep-dir DIR (the file would be deleted)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    databases = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    print_table([run_database(db, args) for db in databases], args.repeat)


if __name__ == "__main__":
    main()
