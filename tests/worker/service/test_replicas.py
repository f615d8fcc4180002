"""Three `rapport worker` processes on one PostgreSQL store, syncing from the emulator.

One cluster per module (starting processes is the slow part): nine mailboxes,
three replicas with a 4-second round and 2-second leases. The tests run in
file order and each looks only at what happens after it starts; the later
ones stop replicas, so at least one is left for the last.
"""

from __future__ import annotations

import math
import signal
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from emulator.testing import make_message
from tests.conftest import private_store
from tests.worker.service.harness import (
    WORKER,
    Emulator,
    Process,
    Processes,
    free_port,
    generated_tenant,
    http_get,
    start_emulator,
    wait_until,
)
from worker.demo.crm_seed import load_crm_seed

pytestmark = pytest.mark.slow  # a cluster of worker processes, waiting for its rounds

INTERVAL = 4
REPLICAS = ("w1", "w2", "w3")


@dataclass
class Cluster:
    emulator: Emulator
    engine: Engine
    workers: dict[str, Process]
    ports: dict[str, int]
    mailboxes: set[str]

    def leases(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT * FROM lease WHERE kind = 'mailbox'"))
            return {row["key"]: dict(row) for row in rows.mappings()}

    def done_round(self) -> int:
        """The last round every mailbox finished (-1 before the first)."""
        leases = self.leases()
        rounds = [leases.get(m, {}).get("round") for m in self.mailboxes]
        return -1 if None in rounds else min(r for r in rounds if r is not None)

    def finished_round(self, mailbox: str) -> int:
        """The round the mailbox last finished, -1 while a round holds it or before the
        replicas have found the mailbox (its row is made by the first round)."""
        lease = self.leases().get(mailbox, {})
        if lease.get("holder") is not None or self.statuses().get(mailbox) != "ok":
            return -1
        return int(lease.get("round") or -1)

    def held_by(self, replica: str) -> set[str]:
        return {key for key, lease in self.leases().items() if lease["holder"] == replica}

    def mailbox_rounds(self) -> list[dict[str, Any]]:
        return [e for w in self.workers.values() for e in w.events("mailbox round")]

    def statuses(self) -> dict[str, str]:
        with self.engine.connect() as connection:
            return dict(connection.execute(sa.text("SELECT id, status FROM mailbox")).all())

    def mid_round(self, mailbox: str) -> tuple[str, datetime] | None:
        """The replica holding the mailbox and when its round began, when that round has
        committed a page and has a next one to fetch; None otherwise."""
        query = sa.text(
            "SELECT lease.holder, mailbox.last_attempt_at FROM mailbox"
            " JOIN lease ON lease.kind = 'mailbox' AND lease.key = mailbox.id"
            " JOIN sync_cursor ON sync_cursor.mailbox_id = mailbox.id"
            " WHERE mailbox.id = :m AND mailbox.status = 'syncing'"
            " AND lease.holder IS NOT NULL AND sync_cursor.next_link IS NOT NULL"
            " AND sync_cursor.updated_at >= mailbox.last_attempt_at"  # this round's page
        )
        with self.engine.connect() as connection:
            found = connection.execute(query, {"m": mailbox}).first()
        return (str(found[0]), found[1]) if found else None

    def alive(self) -> list[Process]:
        return [w for w in self.workers.values() if w.popen.poll() is None]

    def slow_mail(self, milliseconds: int, mailbox: str | None = None) -> int:
        rule = {"kind": "latency", "latency_ms": milliseconds, "path_kind": "messages"}
        if mailbox:
            rule["mailbox"] = mailbox
        return int(self.emulator.admin("POST", "/faults", rule)["id"])


def now_round() -> int:
    return math.floor(time.time() / INTERVAL)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Cluster]:
    directory = tmp_path_factory.mktemp("replicas")
    processes = Processes(directory)
    try:
        with private_store("postgres", directory, sqlite_template) as engine:
            url = engine.url.render_as_string(hide_password=False)
            fixture_path, crm = generated_tenant(directory, users=9, messages_per_user=60)
            load_crm_seed(engine, crm)
            emulator = start_emulator(processes, fixture_path)
            workers, ports = {}, {}
            for replica in REPLICAS:
                ports[replica] = free_port()
                env = emulator.worker_environment(
                    url,
                    replica_id=replica,
                    metrics_port=str(ports[replica]),
                    sync_interval_seconds=str(INTERVAL),
                    sync_jitter_seconds="0.3",
                    lease_ttl_seconds="2",
                    page_size="10",
                    stuck_sync_seconds="60",
                )
                workers[replica] = processes.start(replica, WORKER, env)
            mailboxes = {u["id"] for u in emulator.fixture["users"]}
            try:
                yield Cluster(emulator, engine, workers, ports, mailboxes)
            finally:
                processes.close()
    finally:
        processes.close()


def quiet_snapshot(cluster: Cluster) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Worker events and the emulator's log read while no mailbox round is in flight
    (no lease held before and after, no new event in between)."""

    def attempt() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
        if any(lease["holder"] for lease in cluster.leases().values()):
            return None
        events, log = cluster.mailbox_rounds(), cluster.emulator.request_log()
        if any(lease["holder"] for lease in cluster.leases().values()):
            return None
        return (events, log) if len(cluster.mailbox_rounds()) == len(events) else None

    found: tuple[list[dict[str, Any]], list[dict[str, Any]]] = wait_until(
        attempt, 30, "a moment between rounds", every=0.05
    )
    return found


def test_every_mailbox_is_synced_once_per_round_by_some_replica(cluster: Cluster) -> None:
    wait_until(
        lambda: all(w.events("sync round") for w in cluster.workers.values()),
        60,
        "every replica's first round",
    )
    first = now_round() + 1  # the first round all three replicas take part in
    # Which replica wins which lease is a race: on a loaded host one replica can lose every
    # lease of two rounds. Wait (bounded) until each has taken part, then check the rounds.
    wait_until(
        lambda: (
            cluster.done_round() >= first + 1
            and {e["replica"] for e in cluster.mailbox_rounds() if e["round"] >= first}
            == set(REPLICAS)
        ),
        90,
        "two full rounds, every replica taking part",
    )
    events, log = quiet_snapshot(cluster)

    per_round = Counter((e["mailbox"], e["round"]) for e in events)
    assert max(per_round.values()) == 1, "a mailbox was synced twice in one round"
    for round_ in (first, first + 1):
        synced = {e["mailbox"] for e in events if e["round"] == round_}
        assert synced == cluster.mailboxes, f"round {round_} missed some mailboxes"
    assert {e["replica"] for e in events if e["round"] >= first} == set(REPLICAS)
    # The emulator saw the same: one folder-list start per mailbox round, no hidden sync.
    starts = Counter(e["mailbox"] for e in log if e["path"].endswith("/mailFolders/deleteditems"))
    assert starts == Counter(e["mailbox"] for e in events)


def test_metrics_of_a_replica_describe_the_shared_store(cluster: Cluster) -> None:
    page = http_get(cluster.ports["w1"], "/metrics").text

    assert f'rapport_mailboxes{{status="ok"}} {len(cluster.mailboxes)}' in page
    assert "rapport_replicas_live 3" in page
    assert page.count("rapport_mailbox_sync_lag_seconds{mailbox=") == len(cluster.mailboxes)
    assert 'rapport_tenant_consent{state="granted",tenant="' in page
    assert "@" not in page  # ids, never addresses
    assert http_get(cluster.ports["w2"], "/readyz").json() == {"status": "ready"}


def test_a_killed_replica_leaves_no_mailbox_unsynced(cluster: Cluster) -> None:
    fault = cluster.slow_mail(1500)
    victim = cluster.workers["w3"]
    held = wait_until(lambda: cluster.held_by("w3"), 30, "w3 to hold leases mid-round")
    killed_in = now_round()
    victim.signal(signal.SIGKILL)
    victim.wait(10)
    cluster.emulator.admin("DELETE", f"/faults/{fault}")

    wait_until(lambda: cluster.done_round() > killed_in, 40, "a round after the kill")
    taken_over = {
        e["mailbox"]
        for e in cluster.mailbox_rounds()
        if e["round"] > killed_in and e["status"] == "ok"
    }
    assert held <= taken_over
    assert set(cluster.statuses().values()) == {"ok"}


def test_replicas_recover_when_the_database_drops_their_connections(cluster: Cluster) -> None:
    fault = cluster.slow_mail(1000)
    wait_until(
        lambda: any(lease["holder"] for lease in cluster.leases().values()), 30, "a round in flight"
    )
    cut_in = now_round()
    with cluster.engine.connect() as connection:
        cut = connection.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name LIKE 'rapport-worker%' AND datname = current_database()"
            )
        ).scalar()
    cluster.emulator.admin("DELETE", f"/faults/{fault}")

    assert cut and cut > 0
    wait_until(lambda: cluster.done_round() > cut_in + 1, 40, "the next full round")
    assert len(cluster.alive()) == 2
    assert set(cluster.statuses().values()) == {"ok"}


def test_sigterm_mid_round_commits_the_page_in_hand_and_exits_0(cluster: Cluster) -> None:
    mailbox = sorted(cluster.mailboxes)[0]
    upn = next(u["mail"] for u in cluster.emulator.fixture["users"] if u["id"] == mailbox)
    received = datetime.now(UTC) - timedelta(hours=1)
    messages = [
        make_message(
            "someone@fabrikam.example",
            [upn],
            received=received,
            internet_message_id=f"<late-{n}@fabrikam.example>",
        )
        for n in range(60)
    ]
    # Between two of its rounds, its mail gets slow and six pages of new mail arrive.
    # A round is told by its lease (round number, released), not by catching the
    # "syncing" status: a round with nothing new can begin and end between two polls.
    started_in = now_round()
    wait_until(lambda: cluster.finished_round(mailbox) >= started_in, 30, "a round of the mailbox")
    # Slow first: under load the mail takes longer than a round to arrive, and a round
    # that fetched it fast would leave the next one nothing to be stopped in.
    fault = cluster.slow_mail(700, mailbox)
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda m: cluster.emulator.admin(
                    "POST", f"/users/{mailbox}/mailFolders/inbox/messages", m
                ),
                messages,
            )
        )
    # Told by what is stored, not by a fixed sleep (under load a round may not have
    # reached its first page yet, or be past its last): the round that finished before
    # left no next link, so one stored now is this round's, with a page committed.
    holder, began = wait_until(lambda: cluster.mid_round(mailbox), 60, "a page into a slow round")
    worker = cluster.workers[holder]

    asked = time.monotonic()
    worker.signal(signal.SIGTERM)
    code = worker.wait(30)
    # Read before the mail is fast again: another replica may take the mailbox over in
    # this round once it is released, and would soon move its cursors on.
    with cluster.engine.connect() as connection:
        resume_points = connection.execute(
            sa.text(
                "SELECT count(*) FROM sync_cursor WHERE mailbox_id = :m AND next_link IS NOT NULL"
            ),
            {"m": mailbox},
        ).scalar()
    lease_holder = cluster.leases()[mailbox]["holder"]
    cluster.emulator.admin("DELETE", f"/faults/{fault}")

    assert code == 0 and time.monotonic() - asked < 30
    ended = [e for e in worker.events("mailbox round") if e["mailbox"] == mailbox][-1]
    assert ended["status"] == "interrupted"
    # The stopped round's requests: from its start to its last event (a replica taking
    # the mailbox over starts later, once the lease is released).
    ended_at = datetime.fromisoformat(ended["at"]).timestamp()
    served = [
        entry
        for entry in cluster.emulator.request_log()
        if entry["mailbox"] == mailbox
        and entry["status"] == 200
        and entry["path_kind"] in ("messages", "calendar")
        and "/delta" in entry["path"]
        and began.timestamp() - 0.5 <= entry["started"] <= ended_at
    ]
    # Every page served was committed, except at most the one fetched ahead while the
    # last page committed: that one is dropped, and the stored next link asks for it again.
    assert ended["pages"] <= len(served) <= ended["pages"] + 1
    assert resume_points == 1  # the inbox's next page: where the next round resumes
    assert lease_holder != holder  # released on the way out, not left to expire
    wait_until(lambda: cluster.statuses()[mailbox] == "ok", 30, "the next round to finish it")
