"""The schedule under virtual time: jobs start when the triggers say, never twice at once."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.worker.service.clock import VirtualClock, settle
from worker.service.scheduler import (
    JobSpec,
    SlotTrigger,
    build_scheduler,
    daily_trigger,
    interval_trigger,
    round_number,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a multiple of 300 s since the epoch


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("previous", "now", "expected"),
    [
        (None, at(0), at(300)),  # a job added at a slot start waits for the next one
        (None, at(299.9), at(300)),
        (at(300), at(300), at(600)),
        (at(300) - timedelta(microseconds=1), at(301), at(600)),  # rounding below a slot start
        (at(3), at(310), at(300)),  # the slot after the previous fire, even if now is later
    ],
)
def test_slot_trigger_fires_at_the_next_slot_start(
    previous: datetime | None, now: datetime, expected: datetime
) -> None:
    assert SlotTrigger(300).get_next_fire_time(previous, now) == expected


def test_slot_trigger_jitter_stays_inside_the_slot() -> None:
    trigger = SlotTrigger(300, 30, rng=random.Random(5))
    fire = None
    for slot in range(1, 200):
        fire = trigger.get_next_fire_time(fire, at(0))
        assert fire is not None
        assert round_number(fire, 300) == round_number(T0, 300) + slot
        assert 0 <= fire.timestamp() % 300 <= 30


def test_slot_trigger_refuses_jitter_beyond_half_the_interval() -> None:
    with pytest.raises(ValueError, match="half the interval"):
        SlotTrigger(60, 31)


class Recorder:
    """Jobs that note when they start and end and how many run at once."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.starts: dict[str, list[float]] = {}
        self.running = 0
        self.most_at_once = 0

    def job(self, name: str, seconds: float = 0.0) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            self.starts.setdefault(name, []).append((self.clock.now() - T0).total_seconds())
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            try:
                await self.clock.sleep(seconds)
            finally:
                self.running -= 1

        return run


@pytest.fixture
async def clock() -> AsyncIterator[VirtualClock]:
    yield VirtualClock(T0)


async def run_schedule(
    clock: VirtualClock, jobs: list[JobSpec], seconds: float, grace: int = 60
) -> Any:
    scheduler = build_scheduler(clock, jobs, grace)
    scheduler.start()
    await clock.advance(seconds)
    scheduler.shutdown(wait=False)
    await settle()
    return scheduler


async def test_sync_runs_at_start_then_once_per_slot(clock: VirtualClock) -> None:
    recorder = Recorder(clock)
    trigger = SlotTrigger(300, 30, rng=random.Random(1))
    spec = JobSpec("sync", recorder.job("sync", 5), trigger, first_run=clock.now())

    await run_schedule(clock, [spec], 3599)

    starts = recorder.starts["sync"]
    assert starts[0] == 0
    assert [int(s // 300) for s in starts[1:]] == list(range(1, 12))
    assert all(0 <= s % 300 <= 30 for s in starts[1:])


async def test_a_long_job_never_runs_twice_at_once_and_resumes_on_the_grid(
    clock: VirtualClock,
) -> None:
    recorder = Recorder(clock)
    spec = JobSpec("sync", recorder.job("sync", 700), SlotTrigger(300), first_run=clock.now())

    await run_schedule(clock, [spec], 2800)

    # 0-700 runs; the starts due at 300 and 600 are skipped; the next slot after is 900.
    assert recorder.starts["sync"] == [0, 900, 1800, 2700]
    assert recorder.most_at_once == 1


async def test_interval_and_daily_jobs_keep_their_own_times(clock: VirtualClock) -> None:
    recorder = Recorder(clock)
    jobs = [
        JobSpec("scoring", recorder.job("scoring"), interval_trigger(3600, clock)),
        JobSpec("retention", recorder.job("retention"), daily_trigger(3)),
    ]

    await run_schedule(clock, jobs, 2 * 86_400)

    assert recorder.starts["scoring"] == [3600.0 * n for n in range(1, 49)]
    # T0 is 09:00 UTC: retention at 03:00 on the next two days.
    assert recorder.starts["retention"] == [18 * 3600.0, 42 * 3600.0]


@pytest.mark.parametrize(("grace", "runs"), [(200, 1), (60, 0)])
async def test_missed_runs_are_coalesced_and_dropped_past_the_grace(
    clock: VirtualClock, grace: int, runs: int
) -> None:
    recorder = Recorder(clock)
    spec = JobSpec("sync", recorder.job("sync"), SlotTrigger(300))
    scheduler = build_scheduler(clock, [spec], grace)
    scheduler.start()
    scheduler.pause()
    await clock.advance(1000)  # the starts at 300, 600 and 900 are due meanwhile

    scheduler.resume()  # one coalesced run for 900, 100 s late
    await settle()
    scheduler.shutdown(wait=False)
    await settle()

    assert len(recorder.starts.get("sync", [])) == runs


async def test_a_failed_run_is_logged_and_the_schedule_goes_on(
    clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    starts: list[float] = []

    async def flaky() -> None:
        starts.append((clock.now() - T0).total_seconds())
        if len(starts) == 1:
            raise RuntimeError("the first round fails")

    spec = JobSpec("sync", flaky, SlotTrigger(300), first_run=clock.now())
    with caplog.at_level("ERROR", logger="rapport.scheduler"):
        await run_schedule(clock, [spec], 650)

    assert starts == [0, 300, 600]
    [failure] = [r for r in caplog.records if r.getMessage() == "job failed"]
    assert failure.exc_info is not None and "first round fails" in str(failure.exc_info[1])
