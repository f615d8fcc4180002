"""How long from a new message in a mailbox to fresh health in the CRM store?

Starts the emulator (`python -m emulator.cli serve`) and one `rapport worker` on a
fresh SQLite store seeded with the generated tenant's CRM, waits for the first
sync and scoring, then repeatedly drops a new message from a CRM contact into a
seller's inbox (emulator admin API) at a random moment of the round, and times:

- sync: until the interaction is in the store (the next round read it);
- fresh: until the contact's KPI row (`relationship_kpi`, written with the health
  fields) shows it: the number an operator cares about.

The wait for the next round is uniform over the interval (plus the jitter), so
at the default 5-minute interval, which takes too long to sample here, the
figure is extrapolated: mean = (interval + jitter) / 2 + processing, worst =
interval + jitter + processing, where processing (round start to fresh health)
is measured at the short interval. `--interval 300` measures it for real.

    .venv/bin/python bench/freshness.py                     # 10 s rounds, 6 messages
    .venv/bin/python bench/freshness.py --interval 300 --trials 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage import migrate
from storage.engine import create_store_engine
from worker.demo.crm_seed import load_crm_seed

DEFAULT_INTERVAL, DEFAULT_JITTER = 300, 30.0


def tenant(directory: Path, users: int, messages: int) -> tuple[Path, dict[str, Any]]:
    # `rapport emulator generate` (this folder's emulator.py shadows the package here).
    path = directory / "tenant.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator.cli",
            "generate",
            "--users",
            str(users),
            "--messages-per-user",
            str(messages),
            "--seed",
            "11",
            "--events-per-user",
            "10",
            "--out",
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    fixture = json.loads(path.read_text(encoding="utf-8"))
    crm = json.loads((directory / "tenant.crm.json").read_text(encoding="utf-8"))
    for user in fixture["users"]:
        user["preferredDataLocation"] = None
    fixture["generated"].update(end=datetime.now(UTC).date().isoformat(), days=60)
    path.write_text(json.dumps(fixture), encoding="utf-8")
    return path, crm


def spawn(argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(argv, env=env, stdout=sink, stderr=subprocess.STDOUT)


def events(log: Path, name: str) -> list[dict[str, Any]]:
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return [e for e in (json.loads(x) for x in lines if x.startswith("{")) if e["event"] == name]


def wait_for(check: Any, timeout: float, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise SystemExit(f"timed out after {timeout:g} s")


def kpi(engine: Engine, contact_id: str) -> tuple[int, datetime | None]:
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "SELECT emails_received, last_activity_at FROM relationship_kpi "
                "WHERE record_type = 'contact' AND record_id = :c"
            ),
            {"c": contact_id},
        ).first()
    return (int(row[0]), row[1]) if row else (0, None)


def stored(engine: Engine, key: str) -> bool:
    with engine.connect() as connection:
        query = sa.text("SELECT 1 FROM interaction WHERE key = :k")
        return connection.execute(query, {"k": key}).first() is not None


def message_from(sender: str, to: str, message_id: str) -> dict[str, Any]:
    """A Graph message with metadata only (the emulator's admin API stores it as given)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": message_id.strip("<>"),
        "internetMessageId": message_id,
        "conversationId": f"conv-{message_id.strip('<>')}",
        "subject": "RAPPORT-CANARY",
        "createdDateTime": now,
        "lastModifiedDateTime": now,
        "sentDateTime": now,
        "receivedDateTime": now,
        "isDraft": False,
        "from": {"emailAddress": {"address": sender}},
        "sender": {"emailAddress": {"address": sender}},
        "toRecipients": [{"emailAddress": {"address": to}}],
        "ccRecipients": [],
        "bccRecipients": [],
    }


def trial(
    engine: Engine, admin: str, user: dict[str, Any], contact: dict[str, Any], n: int
) -> dict[str, float]:
    before = kpi(engine, contact["id"])[0]
    message_id = f"<freshness-{n}-{time.time_ns()}@bench.example>"
    message = message_from(contact["emails"][0], user["mail"], message_id)
    httpx.post(
        f"{admin}/users/{user['id']}/mailFolders/inbox/messages", json=message, timeout=10
    ).raise_for_status()
    landed, landed_wall = time.monotonic(), time.time()
    wait_for(lambda: stored(engine, f"msg:{message_id}"), 900)
    synced = time.monotonic()
    wait_for(lambda: kpi(engine, contact["id"])[0] > before, 900)
    fresh = time.monotonic()
    return {
        "sync": synced - landed,
        "fresh": fresh - landed,
        "landed_wall": landed_wall,
        "fresh_wall": landed_wall + (fresh - landed),
    }


def round_starts(log: Path) -> list[float]:
    return [datetime.fromisoformat(e["at"]).timestamp() for e in events(log, "mailboxes leased")]


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(ordered):6.2f} s   p90 {p90:6.2f} s   "
        f"min {ordered[0]:6.2f} s   max {ordered[-1]:6.2f} s"
    )


def worker_environment(
    base: dict[str, str],
    addresses: dict[str, Any],
    fixture: dict[str, Any],
    store: str,
    interval: int,
    jitter: float,
) -> dict[str, str]:
    app = fixture["apps"][0]
    env = {**base, "SSL_CERT_FILE": addresses["caPem"], "REQUESTS_CA_BUNDLE": addresses["caPem"]}
    env.update(
        {
            f"RAPPORT_{k.upper()}": str(v)
            for k, v in {
                "database_url": store,
                "tenant_id": addresses["tenantId"],
                "client_id": app["clientId"],
                "client_secret": app["secrets"][0],
                "authority_host": addresses["authority"],
                "graph_base_url": addresses["graphUrl"],
                "tenant_data_location": "EUR",
                "log_format": "json",
                "metrics_port": 0,
                "sync_interval_seconds": interval,
                "sync_jitter_seconds": jitter,
                "backfill_days": 90,
            }.items()
        }
    )
    return env


def emulator_addresses(log: Path) -> dict[str, Any] | None:
    lines = log.read_text(encoding="utf-8").splitlines()
    return next((json.loads(x) for x in lines if x.startswith('{"authority"')), None)


def run_trials(
    engine: Engine,
    args: argparse.Namespace,
    admin: str,
    fixture: dict[str, Any],
    crm: dict[str, Any],
    worker_log: Path,
) -> list[dict[str, float]]:
    rng = random.Random(4)
    results = []
    for n in range(args.trials):
        time.sleep(rng.uniform(0, args.interval))  # land at a random phase of the round
        result = trial(engine, admin, rng.choice(fixture["users"]), rng.choice(crm["contacts"]), n)
        start = max(
            (s for s in round_starts(worker_log) if s <= result["fresh_wall"]),
            default=result["landed_wall"],
        )
        result["processing"] = result["fresh_wall"] - max(start, result["landed_wall"])
        results.append(result)
        print(
            f"  message {n + 1}: in the store after {result['sync']:.2f} s, "
            f"fresh health after {result['fresh']:.2f} s"
        )
    return results


def report(
    args: argparse.Namespace, jitter: float, results: list[dict[str, float]], worker_log: Path
) -> None:
    rounds = [e["seconds"] for e in events(worker_log, "sync round")]
    scorings = [e["seconds"] for e in events(worker_log, "scoring run")]
    processing = statistics.median(r["processing"] for r in results)
    print(f"\ninterval {args.interval} s, jitter {jitter:g} s, {len(results)} messages")
    print(f"  new message -> interaction stored : {summary([r['sync'] for r in results])}")
    print(f"  new message -> fresh health (KPI) : {summary([r['fresh'] for r in results])}")
    print(f"  round start -> fresh health       : {summary([r['processing'] for r in results])}")
    print(f"  sync round (this replica)         : {summary(rounds)}")
    print(f"  scoring run                       : {summary(scorings)}")
    if args.interval != DEFAULT_INTERVAL:
        mean = (DEFAULT_INTERVAL + DEFAULT_JITTER) / 2 + processing
        worst = DEFAULT_INTERVAL + DEFAULT_JITTER + processing
        print(
            f"default interval {DEFAULT_INTERVAL} s (+{DEFAULT_JITTER:g} s jitter), "
            f"extrapolated: mean {mean:.0f} s, worst {worst:.0f} s "
            f"(wait for the next round + {processing:.1f} s processing)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--interval", type=int, default=10, help="sync round length, seconds")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--messages-per-user", type=int, default=300)
    args = parser.parse_args()
    jitter = round(args.interval / 10, 1)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        fixture_path, crm = tenant(directory, args.users, args.messages_per_user)
        store = f"sqlite:///{directory / 'rapport.db'}"
        engine = create_store_engine(store)
        migrate.upgrade(engine)
        load_crm_seed(engine, crm)
        base = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
        emulator_log, worker_log = directory / "emulator.log", directory / "worker.log"
        emulator = spawn(
            [
                sys.executable,
                "-m",
                "emulator.cli",
                "serve",
                "--fixture",
                str(fixture_path),
                "--workdir",
                tmp,
            ],
            emulator_log,
            base,
        )
        worker: subprocess.Popen[bytes] | None = None
        try:
            addresses = wait_for(lambda: emulator_addresses(emulator_log), 30)
            fixture = json.loads(fixture_path.read_text())
            env = worker_environment(base, addresses, fixture, store, args.interval, jitter)
            started = time.monotonic()
            worker = spawn([sys.executable, "-m", "worker.cli", "worker"], worker_log, env)
            wait_for(lambda: events(worker_log, "scoring run"), 600, every=0.5)
            seconds = time.monotonic() - started
            print(
                f"first sync and scoring of {args.users} mailboxes x {args.messages_per_user} "
                f"messages: {seconds:.1f} s (incl. process start)"
            )
            results = run_trials(engine, args, addresses["adminUrl"], fixture, crm, worker_log)
        finally:
            for process in (worker, emulator):
                if process is not None:
                    process.terminate()
                    process.wait(40)
            engine.dispose()
        report(args, jitter, results, worker_log)  # the logs go with the directory


if __name__ == "__main__":
    main()
