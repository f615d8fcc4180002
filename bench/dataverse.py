"""Benchmark: the Dataverse connector against the loopback Dataverse.

    python bench/dataverse.py --activities 100000 --records 20000 [--db both|sqlite|postgres]

Builds an environment of `--records` records (a tenth accounts, 60 % contacts, 15 % leads,
15 % deals, one stakeholder connection per deal) and `--activities` logged activities
(emails, meetings, calls, tasks in turn, two parties each), serves it over HTTPS, then:

for each database (both by default, side by side against the same emulator):

- a bare paging loop: the same tracked reads (same $select, page size and Prefer) with
  nothing done to the pages; its time is the floor the pull is compared with;
- the pull into a fresh store (first pull: every table read in full);
- the bare loop again (the pull is compared with the mean of the two: the load of a
  shared machine drifts);
- a push of every record's health (`--records` changed records, scored by hand).

Prints time, requests, pull time / bare loop time (target <= 1.5) and requests per pushed
record (target <= 1/50), and the CPU seconds this process spent in the loops and the pull
(on a shared machine the wall times drift with the load; the CPU seconds much less).
Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

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
    LoopbackDataverse,
    fetch_dataverse_token,
    running_dataverse,
    ssl_context,
    standard_environment,
)
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
class Figures:
    db: str
    bare_seconds: list[float] = field(default_factory=list)
    bare_cpu: list[float] = field(default_factory=list)  # this process's CPU seconds
    pull_seconds: float = 0.0
    pull_cpu: float = 0.0
    pull_requests: int = 0
    changed: int = 0
    pushed: int = 0
    push_requests: int = 0
    push_seconds: float = 0.0

    @property
    def ratio(self) -> float:
        return self.pull_seconds / statistics.fmean(self.bare_seconds)

    @property
    def cpu_ratio(self) -> float:
        return self.pull_cpu / statistics.fmean(self.bare_cpu)

    def lines(self) -> list[str]:
        bare = ", ".join(f"{seconds:.2f}" for seconds in self.bare_seconds)
        per_record = self.push_requests / max(1, self.pushed)
        return [
            f"{self.db}: bare paging loop: seconds {bare} (before, after the pull)",
            f"{self.db}: pull: requests {self.pull_requests}, seconds {self.pull_seconds:.2f}",
            f"{self.db}: pull / bare loop: {self.ratio:.2f} (target <= 1.5)",
            f"{self.db}: CPU of this process: bare loop "
            + ", ".join(f"{seconds:.2f}" for seconds in self.bare_cpu)
            + f", pull {self.pull_cpu:.2f}, pull / bare loop {self.cpu_ratio:.2f} "
            "(the database server's own CPU not included)",
            f"{self.db}: push: records {self.pushed} of {self.changed} changed, requests "
            f"{self.push_requests}, seconds {self.push_seconds:.2f}",
            f"{self.db}: push requests per record: {per_record:.4f} (target <= {1 / 50:.4f})",
        ]


async def measure(dv: LoopbackDataverse, token: str, db: str, url: str) -> tuple[Figures, int]:
    """Bare loop, pull into a fresh store, bare loop again (the machine's load drifts:
    the pull is compared with the mean of the loops around it), then the push."""

    async def source() -> str:
        return token

    def client() -> DataverseClient:
        return DataverseClient(Environment(dv.url), source, verify=ssl_context(dv))

    figures = Figures(db)

    async def bare() -> int:
        async with client() as http:
            started, cpu = time.perf_counter(), time.process_time()
            rows = await bare_loop(http)
            figures.bare_seconds.append(time.perf_counter() - started)
            figures.bare_cpu.append(time.process_time() - cpu)
        return rows

    rows = await bare()
    engine = create_store_engine(url)
    upgrade(engine)
    async with client() as puller:
        await apply(puller, await plan(puller, "rapport"), None)
        before = puller.counters.requests
        started, cpu = time.perf_counter(), time.process_time()
        await Puller(puller, engine, now=NOW, page_size=PAGE).pull()
        figures.pull_seconds = time.perf_counter() - started
        figures.pull_cpu = time.process_time() - cpu
        figures.pull_requests = puller.counters.requests - before
    await bare()
    figures.changed = score_everything(url)
    async with client() as pusher:
        started = time.perf_counter()
        report = await Pusher(pusher, engine, prefix="rapport", now=NOW).push()
        figures.push_seconds = time.perf_counter() - started
        figures.pushed, figures.push_requests = report.pushed, pusher.counters.requests
    engine.dispose()
    return figures, rows


async def run(args: argparse.Namespace, stores: dict[str, str]) -> None:
    env = environment(args.records, args.activities)
    limits = Limits(requests_per_window=1_000_000)
    found: list[Figures] = []
    with tempfile.TemporaryDirectory() as workdir:
        async with running_dataverse(env, workdir=Path(workdir), limits=limits) as dv:
            token = await fetch_dataverse_token(dv)
            for db, url in stores.items():
                figures, rows = await measure(dv, token, db, url)
                found.append(figures)
    print(
        f"dataverse bench: {args.records} records, {args.activities} activities, "
        f"{rows} rows read by each pull"
    )
    for figures in found:
        print("\n".join(figures.lines()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args()
    database = f"rapport_bench_dataverse_{os.getpid()}"
    databases = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    with tempfile.TemporaryDirectory() as workdir:
        stores = {
            db: fresh_store(db, args.postgres_url, Path(workdir) / "bench.db", database)
            for db in databases
        }
        try:
            asyncio.run(run(args, stores))
        finally:
            if "postgres" in stores:
                drop_store(args.postgres_url, database)


if __name__ == "__main__":
    main()
