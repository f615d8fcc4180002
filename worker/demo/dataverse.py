"""`rapport demo --dataverse`: the connector end to end against the loopback Dataverse.

A generated tenant (people and companies) is served by the Graph emulator's token service
and a loopback Dataverse holding its sales records; Rapport provisions its columns, pulls
into a fresh SQLite store, scores, pushes, and reads the health back from the Dataverse
records. With `--keep-serving` the loopback stays up (until Ctrl-C) and the demo prints
the request that shows those records.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from crm.dataverse.client import DataverseClient
from crm.dataverse.columns import logical_names
from crm.dataverse.environment import Environment
from crm.dataverse.provision import apply, plan
from crm.dataverse.pull import Puller
from crm.dataverse.push import Pusher
from storage import migrate
from storage.engine import create_store_engine
from worker.failures import UserError
from worker.run.tick import run_once

PREFIX = "rapport"
SHOWN = 8  # records read back from Dataverse


# What to show while the loopback Dataverse stays up: (the demo's payload, a token).
Serving = Callable[[dict[str, Any], str], None]


def demo_dataverse(
    database: Path, now: datetime | None, *, keep_serving: Serving | None = None, users: int = 8
) -> dict[str, Any]:
    """`now` None: the day after the generated history ends (its activities are dated).
    `keep_serving`: keep the loopback Dataverse up until Ctrl-C, having shown this."""
    try:
        import emulator.dataverse  # noqa: F401
    except ModuleNotFoundError:
        raise UserError(
            "--dataverse: the loopback Dataverse needs the emulator extra; install it with "
            "pip install 'rapport[emulator]'"
        ) from None
    store = create_store_engine(f"sqlite:///{database}")
    try:
        migrate.upgrade(store)
        return asyncio.run(_demo(store, now, keep_serving=keep_serving, users=users))
    finally:
        store.dispose()


async def _demo(
    store: Engine, now: datetime | None, *, keep_serving: Serving | None, users: int
) -> dict[str, Any]:
    from emulator.dataverse.generator import dataverse_environment
    from emulator.dataverse.testing import fetch_dataverse_token, running_dataverse, ssl_context
    from emulator.generator import generate_tenant

    fixture, crm = generate_tenant(users=users, messages_per_user=5, seed=7, events_per_user=2)
    environment = dataverse_environment(fixture, crm, 7)
    now = now or _history_end(environment) + timedelta(days=1)
    # The loopback's clock (it stamps createdon and modifiedon) reads the demo's now too.
    offset = time.time() - now.timestamp()
    with tempfile.TemporaryDirectory() as workdir:
        async with running_dataverse(
            environment, tenant=fixture, workdir=Path(workdir), clock=lambda: time.time() - offset
        ) as dv:
            app = fixture["apps"][0]
            token = await fetch_dataverse_token(
                dv, client_id=app["clientId"], secret=app["secrets"][0]
            )

            async def source() -> str:
                return token

            client = DataverseClient(Environment(dv.url), source, verify=ssl_context(dv))
            async with client:
                created = await apply(client, await plan(client, PREFIX), None)
                pulled = await Puller(client, store, now=now).pull()
                summary = await asyncio.to_thread(run_once, store, now=now)
                pushed = await Pusher(client, store, prefix=PREFIX, now=now).push()
                records = await _read_back(client)
            payload = {
                "dataverse_url": dv.url,
                "columns_created": len(created),
                "pulled": {name: t.written for name, t in pulled.tables.items()},
                "records_scored": summary.records_scored,
                "pushed": pushed.as_dict(),
                "requests": client.counters.as_dict(),
                "records": records,
                "look": _look_command(dv.url, dv.ca_pem_path),
            }
            if keep_serving is not None:
                keep_serving(payload, token)
                await _until_interrupted()
    return payload


def _history_end(environment: dict[str, Any]) -> datetime:
    """The latest time an activity of the generated environment names."""
    times = [
        str(row[column])
        for table in ("emails", "appointments", "phonecalls", "tasks")
        for row in environment["tables"].get(table, [])
        for column in ("actualend", "scheduledend", "actualstart", "scheduledstart")
        if row.get(column)
    ]
    latest = max(times, default=None)
    if latest is None:
        return datetime.now(UTC)
    return datetime.fromisoformat(latest.replace("Z", "+00:00"))


async def _read_back(client: DataverseClient) -> list[dict[str, Any]]:
    """Contacts and deals with the health Rapport wrote, as Dataverse returns them."""
    columns = logical_names(PREFIX)
    shown: list[dict[str, Any]] = []
    for entity_set, name in (("opportunities", "name"), ("contacts", "fullname")):
        select = ",".join((name, *columns.values()))
        reply = await client.get(entity_set, params={"$select": select})
        rows = [row for row in reply.body["value"] if row.get(columns["health_score"]) is not None]
        for row in rows[: SHOWN // 2]:
            shown.append(
                {
                    "table": entity_set,
                    "name": row[name],
                    **{key: row.get(column) for key, column in columns.items()},
                }
            )
    return shown


def _look_command(url: str, ca: Path) -> str:
    select = ",".join(("fullname", *logical_names(PREFIX).values()))
    return (
        f'curl --cacert {ca} -H "Authorization: Bearer $TOKEN" '
        f'"{url}/api/data/v9.2/contacts?\\$select={select}"'
    )


async def _until_interrupted() -> None:
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        pass
