"""Mailbox leases, replica presence and the watchdog, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage import lease_store
from storage.engine import session_scope
from storage.mailbox_store import MAILBOX
from worker.service.leases import ReplicaLeases, fair_share

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TTL = timedelta(seconds=30)
MAILBOXES = [f"m{n:02d}" for n in range(10)]


def claim(
    engine: Engine, replica: str, round_: int, now: datetime = NOW, limit: int = 100
) -> list[str]:
    with session_scope(engine) as session:
        return lease_store.claim_mailboxes(
            session=session,
            replica=replica,
            mailbox_ids=MAILBOXES,
            round_=round_,
            now=now,
            ttl=TTL,
            limit=limit,
        )


def release(engine: Engine, replica: str, round_: int, synced: list[str]) -> None:
    with session_scope(engine) as session:
        lease_store.release_mailboxes(
            session=session, replica=replica, synced=synced, round_=round_, now=NOW
        )


@pytest.mark.parametrize(
    ("eligible", "replicas", "share"), [(10, 3, 4), (9, 3, 3), (1, 3, 1), (0, 2, 0), (5, 0, 5)]
)
def test_fair_share(eligible: int, replicas: int, share: int) -> None:
    assert fair_share(eligible, replicas) == share


def test_replicas_share_a_round_and_nobody_takes_a_mailbox_twice(engine: Engine) -> None:
    first = claim(engine, "a", round_=7, limit=4)
    second = claim(engine, "b", round_=7, limit=4)
    release(engine, "a", 7, first)
    third = claim(engine, "c", round_=7, limit=4)

    assert len(first) == 4 and len(second) == 4 and len(third) == 2
    assert sorted(first + second + third) == MAILBOXES
    assert claim(engine, "a", round_=7) == []  # a round syncs each mailbox once


def test_the_next_round_takes_the_least_recently_synced_first(engine: Engine) -> None:
    release(engine, "a", 7, claim(engine, "a", round_=7))

    assert len(claim(engine, "b", round_=8, limit=3)) == 3


def test_an_expired_lease_is_taken_over_and_the_holder_loses_it(engine: Engine) -> None:
    held = claim(engine, "dead", round_=7, limit=3)

    assert claim(engine, "alive", round_=7, now=NOW + TTL / 2) == sorted(set(MAILBOXES) - set(held))
    taken = claim(engine, "alive", round_=7, now=NOW + TTL + timedelta(seconds=1))
    with session_scope(engine) as session:
        still = lease_store.heartbeat(session=session, replica="dead", now=NOW + 2 * TTL, ttl=TTL)

    assert sorted(taken) == sorted(held)
    assert still == set()


def test_a_heartbeat_keeps_leases_alive(engine: Engine) -> None:
    held = claim(engine, "a", round_=7, limit=3)
    with session_scope(engine) as session:
        kept = lease_store.heartbeat(session=session, replica="a", now=NOW + TTL * 0.9, ttl=TTL)

    assert kept == set(held)
    assert set(held).isdisjoint(claim(engine, "b", round_=7, now=NOW + TTL * 1.5))


def test_unfinished_mailboxes_go_back_into_the_same_round(engine: Engine) -> None:
    held = claim(engine, "a", round_=7, limit=4)
    release(engine, "a", 7, synced=held[:2])  # the others were cut short by a shutdown

    assert claim(engine, "b", round_=7, limit=100) == sorted(set(MAILBOXES) - set(held[:2]))


def test_live_replicas_and_a_clean_leave(engine: Engine) -> None:
    with session_scope(engine) as session:
        for name in ("a", "b"):
            lease_store.announce_replica(session=session, replica=name, now=NOW, ttl=TTL)
    held = claim(engine, "a", round_=7, limit=3)
    with session_scope(engine) as session:
        assert lease_store.live_replicas(session=session, now=NOW) == ["a", "b"]
        assert lease_store.live_replicas(session=session, now=NOW + TTL * 2) == []
        lease_store.release_replica(session=session, replica="a")
        assert lease_store.live_replicas(session=session, now=NOW) == ["b"]

    assert set(held) <= set(claim(engine, "b", round_=7))


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_concurrent_claims_on_postgresql_never_overlap(engine: Engine) -> None:
    claim(engine, "setup", round_=0, limit=0)  # the lease rows exist
    results: dict[str, list[str]] = {}
    start = threading.Barrier(4)

    def replica(name: str) -> None:
        start.wait()
        results[name] = claim(engine, name, round_=7, limit=4)

    threads = [threading.Thread(target=replica, args=(f"r{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    claimed = [mailbox for got in results.values() for mailbox in got]
    assert sorted(claimed) == MAILBOXES  # every mailbox once, none twice


def _mailbox(engine: Engine, mailbox_id: str, status: str, since: datetime | None) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(MAILBOX).values(
                id=mailbox_id,
                tenant_id="t",
                location_allowed=True,
                status=status,
                syncing_since=since,
                items_ingested=0,
            )
        )


def test_the_watchdog_resets_mailboxes_a_dead_or_hung_worker_left_syncing(engine: Engine) -> None:
    _mailbox(engine, "m00", "syncing", NOW - timedelta(minutes=5))  # held by a live replica
    _mailbox(engine, "m01", "syncing", NOW - timedelta(minutes=5))  # its replica died
    _mailbox(engine, "m02", "syncing", NOW - timedelta(hours=2))  # held, but hung
    _mailbox(engine, "m03", "syncing", NOW - timedelta(seconds=5))  # just started, no lease yet
    _mailbox(engine, "m04", "ok", NOW - timedelta(hours=5))
    with session_scope(engine) as session:
        lease_store.claim_mailboxes(
            session=session,
            replica="a",
            mailbox_ids=["m00", "m02"],
            round_=1,
            now=NOW - TTL / 2,
            ttl=TTL,
            limit=5,
        )
        reset = dict(
            lease_store.reset_stuck_mailboxes(
                session=session, now=NOW, ttl=TTL, limit=timedelta(hours=1)
            )
        )

    assert set(reset) == {"m01", "m02"}
    assert "no worker holds it" in reset["m01"]
    assert "longer than 3600 s" in reset["m02"]
    with engine.connect() as connection:
        rows = dict(connection.execute(sa.select(MAILBOX.c.id, MAILBOX.c.status)).all())
        error = connection.execute(
            sa.select(MAILBOX.c.last_error).where(MAILBOX.c.id == "m01")
        ).scalar()
    assert rows == {
        "m00": "syncing",
        "m01": "interrupted",
        "m02": "interrupted",
        "m03": "syncing",
        "m04": "ok",
    }
    assert error is not None and error.startswith("watchdog:")


class StillClock:
    def now(self) -> datetime:
        return NOW

    async def sleep(self, seconds: float) -> None:
        return None


def holders(engine: Engine) -> set[str | None]:
    with engine.connect() as connection:
        query = sa.select(lease_store.LEASE.c.holder).where(lease_store.LEASE.c.kind == "mailbox")
        return set(connection.scalars(query))


async def test_a_claim_committed_during_a_heartbeat_is_not_taken_for_a_lost_lease(
    engine: Engine,
) -> None:
    leases = ReplicaLeases(engine, "a", TTL, StillClock())
    read_before_the_claim = leases._beat

    def beat_then_claim() -> set[str]:
        still = read_before_the_claim()
        leases.held.update(leases._claim(MAILBOXES, 7))  # lands while the beat is out
        return still

    leases._beat = beat_then_claim  # type: ignore[method-assign]
    await leases.beat()

    assert len(leases.held) == 10
    await leases.release(7, {})  # released by the database's holder, whatever `held` says
    assert holders(engine) == {None}
