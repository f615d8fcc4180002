"""A replica's share of the work: mailbox leases, the heartbeat, singleton-job locks.

A sync round is a slot of the schedule grid (worker/service/scheduler.py): every
replica fires once per slot and claims, among the mailboxes nobody synced
in this slot and nobody holds, its fair share (the eligible mailboxes
divided by the live replicas, least recently synced first); when its share
is done and mailboxes of the slot are still unclaimed (a replica is slow,
or died), it claims again. Leases last
`ttl` and the heartbeat renews them; a replica that dies stops renewing, its
leases lapse, and the next claim by another replica takes the mailboxes over.
A mailbox whose round was cut short by a shutdown is released unfinished and
may be taken over in the same slot.

Scoring and retention run on one replica at a time: a PostgreSQL advisory
lock (session-level, so it goes with the connection if the process dies).
On SQLite only one worker runs at all (worker/service/single_worker.py). Scoring's lock
is the store's run lock (worker/run/lock.py), which `rapport run --once`
takes too, on SQLite as well: a run beside the worker waits for its scoring.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

from sqlalchemy.engine import Engine

from storage import lease_store
from storage.engine import session_scope
from worker.log import get_logger
from worker.run.lock import (
    RUN_LOCK,
    AdvisoryLock,
    FreeLock,
    JobLock,
    store_run_lock,
    this_process,
)
from worker.service.scheduler import Clock

log = get_logger("rapport.leases")
Claim = Callable[[list[str]], Awaitable[list[str]]]


def fair_share(eligible: int, replicas: int) -> int:
    return math.ceil(eligible / max(replicas, 1))


class ReplicaLeases:
    def __init__(self, engine: Engine, replica: str, ttl: timedelta, clock: Clock) -> None:
        self.engine, self.replica, self.ttl, self.clock = engine, replica, ttl, clock
        self.held: set[str] = set()
        self.unclaimed = 0  # mailboxes of the round nobody held after our last claim

    def _announce(self) -> None:
        with session_scope(self.engine) as session:
            lease_store.announce_replica(
                session=session, replica=self.replica, now=self.clock.now(), ttl=self.ttl
            )

    async def announce(self) -> None:
        await asyncio.to_thread(self._announce)

    def _beat(self) -> set[str]:
        with session_scope(self.engine) as session:
            now = self.clock.now()
            lease_store.announce_replica(
                session=session, replica=self.replica, now=now, ttl=self.ttl
            )
            return lease_store.heartbeat(
                session=session, replica=self.replica, now=now, ttl=self.ttl
            )

    async def beat(self) -> None:
        before = set(self.held)  # claims committed before the beat reads
        still = await asyncio.to_thread(self._beat)
        lost = (before & self.held) - still
        if lost:
            # Another replica took them over after our leases lapsed (a stall or an
            # outage longer than the TTL): finishing them twice is safe, sync is idempotent.
            log.warning("mailbox leases lost", mailboxes=len(lost), replica=self.replica)
            self.held -= lost

    def _claim(self, mailbox_ids: list[str], round_: int) -> list[str]:
        with session_scope(self.engine) as session:
            now = self.clock.now()
            replicas = lease_store.live_replicas(session=session, now=now)
            limit = fair_share(len(mailbox_ids), len(set(replicas) | {self.replica}))
            claimed = lease_store.claim_mailboxes(
                session=session,
                replica=self.replica,
                mailbox_ids=mailbox_ids,
                round_=round_,
                now=now,
                ttl=self.ttl,
                limit=limit,
            )
            self.unclaimed = lease_store.count_claimable(
                session=session, mailbox_ids=mailbox_ids, round_=round_, now=now
            )
            return claimed

    def claim_for(self, round_: int) -> Claim:
        """The `claim` hook of a sync round: narrows the eligible mailboxes to ours."""

        async def claim(mailbox_ids: list[str]) -> list[str]:
            claimed = await asyncio.to_thread(self._claim, mailbox_ids, round_)
            self.held.update(claimed)
            log.info(
                "mailboxes leased",
                round=round_,
                eligible=len(mailbox_ids),
                leased=len(claimed),
                unclaimed=self.unclaimed,
            )
            return claimed

        return claim

    def _release(self, synced: Sequence[str], round_: int) -> None:
        with session_scope(self.engine) as session:
            lease_store.release_mailboxes(
                session=session,
                replica=self.replica,
                synced=synced,
                round_=round_,
                now=self.clock.now(),
            )

    async def release(self, round_: int, statuses: dict[str, str]) -> None:
        """Free every mailbox lease this replica holds; those that ended in any status
        but "interrupted" are done for the round."""
        synced = [m for m, status in statuses.items() if status != "interrupted"]
        await asyncio.to_thread(self._release, synced, round_)
        self.held.clear()

    def _leave(self) -> None:
        with session_scope(self.engine) as session:
            lease_store.release_replica(session=session, replica=self.replica)

    async def leave(self) -> None:
        await asyncio.to_thread(self._leave)
        self.held.clear()


def job_lock(engine: Engine, name: str) -> JobLock:
    """The lock of the singleton job `name`. Scoring takes the store's run lock, the
    one `rapport run --once` takes too, so the two never overlap on any store."""
    if name == RUN_LOCK:
        return store_run_lock(engine, this_process("rapport worker, scoring"))
    if engine.dialect.name != "postgresql":
        return FreeLock()  # SQLite: this is the only worker (worker/service/single_worker.py)
    return AdvisoryLock(engine, name)


@asynccontextmanager
async def singleton(
    engine: Engine,
    name: str,
    clock: Clock,
    *,
    wait_seconds: float = 0.0,
    give_up: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[bool]:
    """Yield True while this replica holds the job lock `name`, False if another does.

    Polls once a second for up to `wait_seconds`, or until `give_up()` says so."""
    lock = job_lock(engine, name)
    waited, taken = 0.0, False
    try:
        while True:
            taken = await asyncio.to_thread(lock.try_take)
            if taken or waited >= wait_seconds or (give_up is not None and await give_up()):
                break
            await clock.sleep(1.0)
            waited += 1.0
        yield taken
    finally:
        await asyncio.to_thread(lock.release)
