"""Benchmark: the Dataverse connector against the loopback Dataverse.

    python bench/dataverse.py --activities 100000 --records 20000 --db sqlite

Builds an environment of `--records` records (a tenth accounts, 60 % contacts, 15 % leads,
15 % deals, one stakeholder connection per deal) and `--activities` logged activities
(emails, meetings, calls, tasks in turn, two parties each), serves it over HTTPS, then:

- a bare paging loop: the same tracked reads (same $select, page size and Prefer) with
  nothing done to the pages; its time is the floor the pull is compared with;
- the pull into a fresh store (first pull: every table read in full);
- a push of every record's health (`--records` changed records, scored by hand).

Prints time, requests, pull time / bare loop time (target <= 1.5) and requests per pushed
record (target <= 1/50). Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
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


async def run(args: argparse.Namespace, url: str) -> None:
    env = environment(args.records, args.activities)
    limits = Limits(requests_per_window=1_000_000)
    with tempfile.TemporaryDirectory() as workdir:
        async with running_dataverse(env, workdir=Path(workdir), limits=limits) as dv:
            token = await fetch_dataverse_token(dv)

            async def source() -> str:
                return token

            def client() -> DataverseClient:
                return DataverseClient(Environment(dv.url), source, verify=ssl_context(dv))

            async with client() as bare:
                started = time.perf_counter()
                rows = await bare_loop(bare)
                bare_seconds = time.perf_counter() - started
            engine = create_store_engine(url)
            upgrade(engine)
            async with client() as puller:
                await apply(puller, await plan(puller, "rapport"), None)
                before = puller.counters.requests
                started = time.perf_counter()
                await Puller(puller, engine, now=NOW, page_size=PAGE).pull()
                pull_seconds = time.perf_counter() - started
                pull_requests = puller.counters.requests - before
            changed = score_everything(url)
            async with client() as pusher:
                started = time.perf_counter()
                report = await Pusher(pusher, engine, prefix="rapport", now=NOW).push()
                push_seconds = time.perf_counter() - started
            engine.dispose()
    print(f"dataverse bench on {args.db}: {args.records} records, {args.activities} activities")
    print(
        f"bare paging loop: rows {rows}, requests {bare.counters.requests}, "
        f"seconds {bare_seconds:.2f}"
    )
    print(f"pull: requests {pull_requests}, seconds {pull_seconds:.2f}")
    print(f"pull / bare loop: {pull_seconds / bare_seconds:.2f} (target <= 1.5)")
    print(
        f"push: records {report.pushed} of {changed} changed, requests "
        f"{pusher.counters.requests}, seconds {push_seconds:.2f}"
    )
    per_record = pusher.counters.requests / max(1, report.pushed)
    print(f"push requests per record: {per_record:.4f} (target <= {1 / 50:.4f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args()
    database = f"rapport_bench_dataverse_{os.getpid()}"
    with tempfile.TemporaryDirectory() as workdir:
        url = fresh_store(args.db, args.postgres_url, Path(workdir) / "bench.db", database)
        try:
            asyncio.run(run(args, url))
        finally:
            if args.db == "postgres":
                drop_store(args.postgres_url, database)


if __name__ == "__main__":
    main()
