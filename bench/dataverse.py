"""Benchmark: the Dataverse connector against the loopback Dataverse.

    python bench/dataverse.py --activities 100000 --records 20000 [--db both|sqlite|postgres]
        [--server apart|inline] [--change-log-cost]

Builds an environment of `--records` records (a tenth accounts, 60 % contacts, 15 % leads,
15 % deals, one stakeholder connection per deal) and `--activities` logged activities
(emails, meetings, calls, tasks in turn, two parties each), serves it over HTTPS, then:

for each database (both by default, side by side against the same emulator):

- a bare paging loop: the same tracked reads (same $select, page size and Prefer) with
  nothing done to the pages; its time is the floor the pull is compared with;
- the pull into a fresh store (first pull: every table read in full);
- with `--change-log-cost`, the pull again into a fresh store whose CRM change-log
  triggers (migration 0012, storage/tick_tables.py) were dropped: what they cost the pull;
- the bare loop again (the pull is compared with the mean of the two: the load of a
  shared machine drifts);
- a push of every record's health (`--records` changed records, scored by hand).

Where the emulator runs (`--server`): by default **apart**, in its own process
(`python -m emulator.cli serve`, the command `rapport emulator serve` runs), because a real
Dataverse is remote: served from the bench's own process (`inline`, the old way) it holds
the GIL while it renders a page, so the pull's writes and its next page's fetch, which
overlap against a remote server, were serialised behind it, and the bare loop's time was
mostly the emulator's own CPU. Apart, both loops see the same server and the pull's
overlap (the next page fetched while this one is written) works as it would against
Dataverse; the emulator's CPU is shown on its own line.

Prints time, requests, pull time / bare loop time (target <= 1.5) and requests per pushed
record (target <= 1/50), and the CPU seconds this process spent in the loops and the pull
(on a shared machine the wall times drift with the load; the CPU seconds much less) and,
apart, the emulator process's. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import msgspec  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bench.stores import DEFAULT_POSTGRES_URL, drop_store, fresh_store  # noqa: E402
from crm.dataverse.client import DataverseClient  # noqa: E402
from crm.dataverse.columns import TABLES  # noqa: E402
from crm.dataverse.environment import Environment  # noqa: E402
from crm.dataverse.mapping import PULLED  # noqa: E402
from crm.dataverse.provision import apply, plan  # noqa: E402
from crm.dataverse.pull import ANNOTATIONS, Puller  # noqa: E402
from crm.dataverse.push import Pusher  # noqa: E402
from emulator.dataverse.limits import Limits  # noqa: E402
from emulator.dataverse.testing import (  # noqa: E402
    LOOKUP,
    fetch_dataverse_token,
    running_dataverse,
    standard_environment,
)
from emulator.testing import FixtureBuilder, fetch_token  # noqa: E402
from storage.engine import create_store_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402

NOW = datetime(2025, 6, 1, tzinfo=UTC)
PAGE = 5000
KINDS = ("emails", "appointments", "phonecalls", "tasks")


def _id(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "bench/" + "/".join(map(str, parts))))


def _when(n: int) -> str:
    return (NOW - timedelta(minutes=37 * n + 60)).strftime("%Y-%m-%dT%H:%M:%SZ")


def environment(records: int, activities: int) -> dict[str, Any]:
    env = standard_environment()
    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in env["tables"]}
    tables["systemusers"] = env["tables"]["systemusers"]
    tables["connectionroles"] = env["tables"]["connectionroles"]
    seller = tables["systemusers"][0]["systemuserid"]
    role = tables["connectionroles"][0]["connectionroleid"]
    created = "2024-01-01T00:00:00Z"
    accounts = [_id("account", n) for n in range(max(1, records // 10))]
    for n, account in enumerate(accounts):
        tables["accounts"].append(
            {
                "accountid": account,
                "name": f"Account {n}",
                "_ownerid_value": seller,
                "createdon": created,
            }
        )
    contacts = [_id("contact", n) for n in range(records * 6 // 10)]
    for n, contact in enumerate(contacts):
        tables["contacts"].append(
            {
                "contactid": contact,
                "fullname": f"Contact {n}",
                "emailaddress1": f"c{n}@x{n % 97}.example",
                "_parentcustomerid_value": accounts[n % len(accounts)],
                f"_parentcustomerid_value{LOOKUP}": "account",
                "createdon": created,
            }
        )
    for n in range(records * 15 // 100):
        tables["leads"].append(
            {
                "leadid": _id("lead", n),
                "fullname": f"Lead {n}",
                "emailaddress1": f"l{n}@p{n % 89}.example",
                "statecode": 0,
                "createdon": created,
            }
        )
    for n in range(records * 15 // 100):
        deal = _id("opportunity", n)
        tables["opportunities"].append(
            {
                "opportunityid": deal,
                "name": f"Deal {n}",
                "statecode": 0,
                "_parentaccountid_value": accounts[n % len(accounts)],
                "createdon": created,
            }
        )
        tables["connections"].append(
            {
                "connectionid": _id("connection", n),
                "_record1id_value": deal,
                f"_record1id_value{LOOKUP}": "opportunity",
                "_record2id_value": contacts[n % len(contacts)],
                f"_record2id_value{LOOKUP}": "contact",
                "_record2roleid_value": role,
            }
        )
    for n in range(activities):
        kind, activity, contact = KINDS[n % 4], _id("activity", n), contacts[n % len(contacts)]
        row: dict[str, Any] = {
            "activityid": activity,
            "statecode": 1,
            "actualend": _when(n),
            "actualstart": _when(n),
            "_ownerid_value": seller,
        }
        if kind in ("emails", "phonecalls"):
            row["directioncode"] = n % 3 != 0
        tables[kind].append(row)
        for m, (party, table, mask) in enumerate(
            ((seller, "systemuser", 1), (contact, "contact", 2))
        ):
            tables["activityparties"].append(
                {
                    "activitypartyid": _id("party", n, m),
                    "_activityid_value": activity,
                    f"_activityid_value{LOOKUP}": kind[:-1]
                    if kind != "phonecalls"
                    else "phonecall",
                    "_partyid_value": party,
                    f"_partyid_value{LOOKUP}": table,
                    "participationtypemask": mask,
                }
            )
    env["tables"] = tables
    return env


async def bare_loop(client: DataverseClient) -> int:
    """The floor: every tracked page of every table, fetched and dropped."""
    prefer = f"odata.track-changes,odata.maxpagesize={PAGE},{ANNOTATIONS}"
    rows = 0
    for spec in PULLED:
        link: str | None = spec.entity_set
        params: dict[str, str] | None = {"$select": ",".join(spec.select)}
        while link:
            body = (await client.get(link, params=params, prefer=prefer)).body
            rows += len(body["value"])
            link, params = body.get("@odata.nextLink"), None
    return rows


def score_everything(url: str) -> int:
    engine = create_store_engine(url)
    changed = 0
    with engine.begin() as connection:
        for record_type in TABLES:
            changed += connection.execute(
                sa.text(
                    f"update {record_type} set health_score = 50, health_state = 1, "
                    "health_trend = 1, health_updated_at = :at"
                ),
                {"at": NOW},
            ).rowcount
    engine.dispose()
    return changed


@dataclass
class Server:
    """A loopback Dataverse being served: where, the CA that signed it, a token, and the
    pid of the process serving it (None: this process)."""

    url: str
    ca: Path
    token: str
    pid: int | None = None

    def cpu(self) -> float:
        """CPU seconds the serving process has spent so far (0 when it is this one)."""
        return 0.0 if self.pid is None else _process_cpu(self.pid)


@dataclass(frozen=True)
class ServedIssuer:
    """The token endpoint of an emulator served apart, from the addresses it printed."""

    authority: str
    tenant_id: str
    ca_pem_path: Path


@asynccontextmanager
async def served_inline(env: dict[str, Any], workdir: Path) -> AsyncIterator[Server]:
    """The emulator in this process: it takes the GIL from the pull it serves."""
    limits = Limits(requests_per_window=1_000_000)
    async with running_dataverse(env, workdir=workdir, limits=limits) as dv:
        yield Server(dv.url, dv.ca_pem_path, await fetch_dataverse_token(dv))


@asynccontextmanager
async def served_apart(env: dict[str, Any], workdir: Path) -> AsyncIterator[Server]:
    """The emulator in its own process (`rapport emulator serve`), as a real Dataverse is
    remote: the pull and the loop share no GIL with it."""
    tenant, dataverse = workdir / "tenant.json", workdir / "dataverse.json"
    tenant.write_text(json.dumps(FixtureBuilder.standard().build(), default=str))
    dataverse.write_bytes(msgspec.json.encode(env))
    command = ("-m", "emulator.cli", "serve", "--fixture", str(tenant), "--workdir", str(workdir))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command,
        "--dataverse",
        str(dataverse),
        cwd=Path(__file__).resolve().parents[1],
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        addresses = json.loads(await process.stdout.readline())
        verify = ssl.create_default_context(cafile=addresses["caPem"])
        async with httpx.AsyncClient(verify=verify) as http:
            limits = {"requestsPerWindow": 1_000_000}
            (
                await http.put(addresses["dataverseAdminUrl"] + "/limits", json=limits)
            ).raise_for_status()
        issuer = ServedIssuer(
            addresses["authority"], addresses["tenantId"], Path(addresses["caPem"])
        )
        token = await fetch_token(issuer, scope=addresses["dataverseScope"])
        yield Server(addresses["dataverseUrl"], issuer.ca_pem_path, token, process.pid)
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


def _process_cpu(pid: int) -> float:
    """CPU seconds a process has spent so far (Linux /proc; 0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_cpu(engine: Engine) -> float:
    """CPU seconds spent so far by the PostgreSQL backends serving the store's database
    (0 on SQLite, whose work is this process's); read before the engine closes them."""
    if engine.dialect.name != "postgresql":
        return 0.0
    with engine.connect() as connection:
        pids = connection.execute(
            sa.text("select pid from pg_stat_activity where datname = current_database()")
        ).scalars()
        return sum(_process_cpu(int(pid)) for pid in pids)


@dataclass
class PullRun:
    seconds: float
    cpu: float  # this process's
    server_cpu: float  # the emulator's process (apart)
    database_cpu: float  # PostgreSQL's backends
    requests: int


@dataclass
class Figures:
    db: str
    bare_seconds: list[float] = field(default_factory=list)
    bare_cpu: list[float] = field(default_factory=list)  # this process's CPU seconds
    bare_server_cpu: list[float] = field(default_factory=list)  # the emulator's, apart
    pull: PullRun = field(default_factory=lambda: PullRun(0.0, 0.0, 0.0, 0.0, 0))
    unlogged: PullRun | None = None  # the pull into a store without change-log triggers
    changed: int = 0
    pushed: int = 0
    push_requests: int = 0
    push_seconds: float = 0.0
    rows: int = 0  # read by each bare loop

    @property
    def ratio(self) -> float:
        return self.pull.seconds / statistics.fmean(self.bare_seconds)

    @property
    def cpu_ratio(self) -> float:
        return self.pull.cpu / statistics.fmean(self.bare_cpu)

    def lines(self) -> list[str]:
        bare = ", ".join(f"{seconds:.2f}" for seconds in self.bare_seconds)
        per_record = self.push_requests / max(1, self.pushed)
        pull = self.pull
        lines = [
            f"{self.db}: bare paging loop: seconds {bare} (before, after the pull)",
            f"{self.db}: pull: requests {pull.requests}, seconds {pull.seconds:.2f}",
            f"{self.db}: pull / bare loop: {self.ratio:.2f} (target <= 1.5)",
            f"{self.db}: CPU of this process: bare loop "
            + ", ".join(f"{seconds:.2f}" for seconds in self.bare_cpu)
            + f", pull {pull.cpu:.2f}, pull / bare loop {self.cpu_ratio:.2f}",
        ]
        if self.bare_server_cpu:
            lines.append(
                f"{self.db}: CPU of the emulator's process: bare loop "
                + ", ".join(f"{seconds:.2f}" for seconds in self.bare_server_cpu)
                + f", pull {pull.server_cpu:.2f}"
            )
        if self.db == "postgres":
            lines.append(f"{self.db}: CPU of the PostgreSQL backends: pull {pull.database_cpu:.2f}")
        if self.unlogged is not None:
            other = self.unlogged
            cost = pull.seconds - other.seconds
            lines.append(
                f"{self.db}: pull without the change-log triggers: seconds {other.seconds:.2f}, "
                f"/ bare loop {other.seconds / statistics.fmean(self.bare_seconds):.2f}, "
                f"CPU of this process {other.cpu:.2f}, of the PostgreSQL backends "
                f"{other.database_cpu:.2f}; the triggers cost {cost:.2f} s of wall time "
                f"({cost / pull.seconds:.0%} of the pull) and "
                f"{pull.cpu + pull.database_cpu - other.cpu - other.database_cpu:.2f} s of CPU"
            )
        return [
            *lines,
            f"{self.db}: push: records {self.pushed} of {self.changed} changed, requests "
            f"{self.push_requests}, seconds {self.push_seconds:.2f}",
            f"{self.db}: push requests per record: {per_record:.4f} (target <= {1 / 50:.4f})",
        ]


def drop_change_log(url: str) -> int:
    """Drop the CRM change-log triggers (migration 0012) of a bench store: the pull into
    it shows what they cost. Returns the triggers dropped."""
    engine = create_store_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            found = connection.execute(
                sa.text(
                    "select tgname, tgrelid::regclass::text from pg_trigger "
                    "where not tgisinternal and tgname like 'rapport\\_%\\_logged'"
                )
            ).all()
            for name, table in found:
                connection.execute(sa.text(f"drop trigger {name} on {table}"))
        else:
            found = connection.execute(
                sa.text(
                    "select name, tbl_name from sqlite_master where type = 'trigger' "
                    "and name like 'rapport\\_%\\_logged' escape '\\'"
                )
            ).all()
            for name, _table in found:
                connection.execute(sa.text(f"drop trigger {name}"))
    engine.dispose()
    return len(found)


async def measure(server: Server, db: str, url: str, unlogged_url: str | None) -> Figures:
    """Bare loop, pull into a fresh store (and, with `unlogged_url`, into a fresh store
    without the change-log triggers), bare loop again (the machine's load drifts: the
    pull is compared with the mean of the loops around it), then the push."""

    async def source() -> str:
        return server.token

    def client() -> DataverseClient:
        verify = ssl.create_default_context(cafile=str(server.ca))
        return DataverseClient(Environment(server.url), source, verify=verify)

    figures = Figures(db)

    async def bare() -> None:
        async with client() as http:
            started, cpu, served = time.perf_counter(), time.process_time(), server.cpu()
            figures.rows = await bare_loop(http)
            figures.bare_seconds.append(time.perf_counter() - started)
            figures.bare_cpu.append(time.process_time() - cpu)
            if server.pid is not None:
                figures.bare_server_cpu.append(server.cpu() - served)

    async def pull(store: str) -> PullRun:
        engine = create_store_engine(store)
        async with client() as puller:
            started, cpu, served = time.perf_counter(), time.process_time(), server.cpu()
            db_cpu = database_cpu(engine)
            await Puller(puller, engine, now=NOW, page_size=PAGE).pull()
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            run = PullRun(
                seconds,
                cpu,
                server.cpu() - served,
                database_cpu(engine) - db_cpu,
                puller.counters.requests,
            )
        engine.dispose()
        return run

    engine = create_store_engine(url)
    upgrade(engine)
    async with client() as provisioner:
        await apply(provisioner, await plan(provisioner, "rapport"), None)
    if unlogged_url is not None:
        unlogged = create_store_engine(unlogged_url)
        upgrade(unlogged)
        unlogged.dispose()
        drop_change_log(unlogged_url)
    await bare()
    figures.pull = await pull(url)
    if unlogged_url is not None:
        figures.unlogged = await pull(unlogged_url)
    await bare()
    figures.changed = score_everything(url)
    async with client() as pusher:
        started = time.perf_counter()
        report = await Pusher(pusher, engine, prefix="rapport", now=NOW).push()
        figures.push_seconds = time.perf_counter() - started
        figures.pushed, figures.push_requests = report.pushed, pusher.counters.requests
    engine.dispose()
    return figures


async def run(args: argparse.Namespace, stores: dict[str, tuple[str, str | None]]) -> None:
    env = environment(args.records, args.activities)
    found: list[Figures] = []
    served = served_apart if args.server == "apart" else served_inline
    with tempfile.TemporaryDirectory() as workdir:
        async with served(env, Path(workdir)) as server:
            for db, (url, unlogged_url) in stores.items():
                found.append(await measure(server, db, url, unlogged_url))
    print(
        f"dataverse bench: {args.records} records, {args.activities} activities, "
        f"{found[0].rows} rows read by each pull, emulator served {args.server}, "
        f"load average {', '.join(f'{n:.2f}' for n in os.getloadavg())} at the end"
    )
    for figures in found:
        print("\n".join(figures.lines()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument(
        "--server",
        choices=("apart", "inline"),
        default="apart",
        help="serve the emulator from its own process (default) or from this one",
    )
    parser.add_argument(
        "--change-log-cost",
        action="store_true",
        help="also pull into a store without the change-log triggers (what they cost)",
    )
    args = parser.parse_args()
    database = f"rapport_bench_dataverse_{os.getpid()}"
    databases = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    with tempfile.TemporaryDirectory() as workdir:

        def store(db: str, suffix: str) -> str:
            path = Path(workdir) / f"bench{suffix}.db"
            return fresh_store(db, args.postgres_url, path, database + suffix)

        stores = {
            db: (store(db, ""), store(db, "_unlogged") if args.change_log_cost else None)
            for db in databases
        }
        try:
            asyncio.run(run(args, stores))
        finally:
            if "postgres" in stores:
                drop_store(args.postgres_url, database)
                drop_store(args.postgres_url, database + "_unlogged")


if __name__ == "__main__":
    main()
