"""The worker's schedule: APScheduler 3's jobs and triggers, timed by an injected clock.

APScheduler 3 holds the jobs (`add_job` with a trigger, `next_run_time`,
`coalesce`, `max_instances`, `misfire_grace_time`) and computes every fire
time (its interval and cron triggers, our `SlotTrigger`), all through its
public API. What it cannot do through that API is take its time from
anyone but the wall clock: its loop and its executors call `datetime.now()`
and arm `loop.call_later` themselves. So the APScheduler scheduler stays
paused, as a job store, and `Schedule` below is the loop: it sleeps on the
`Clock` (`now()` and `sleep()`) until the next `next_run_time`, starts the
due jobs as tasks, and moves each job on with `modify_job`. A test advances
virtual time and sees jobs start at exactly the times the triggers promise,
without waiting. The job semantics are APScheduler's: a late run is
coalesced into one, a run later than the misfire grace is dropped, a job
never runs twice at once (max_instances=1).

Sync rounds fire on a grid: at every multiple of the interval since the
epoch (UTC) plus a random jitter, so every replica starts its round in the
same slot and a slot is one round for all of them (see worker/service/leases.py).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger

from worker.log import get_logger

log = get_logger("rapport.scheduler")
Job = Callable[[], Awaitable[Any]]


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def round_number(moment: datetime, interval_seconds: float) -> int:
    """The sync round (slot) a moment falls in: slots start at multiples of the interval."""
    return math.floor(moment.timestamp() / interval_seconds)


class SlotTrigger(BaseTrigger):  # type: ignore[misc]
    """Fire once per slot of `interval` seconds, `0..jitter` seconds after it starts."""

    def __init__(
        self, interval: float, jitter: float = 0.0, rng: random.Random | None = None
    ) -> None:
        if not 0 <= jitter * 2 <= interval:
            raise ValueError("jitter must be between 0 and half the interval")
        self.interval, self.jitter = interval, jitter
        self._rng = rng or random.Random()

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        # A millisecond on: a fire time rounded to just below a slot start stays in that slot.
        after = (previous_fire_time or now) + timedelta(milliseconds=1)
        slot = round_number(after, self.interval) + 1
        delay = self._rng.uniform(0, self.jitter) if self.jitter else 0.0
        return datetime.fromtimestamp(slot * self.interval + delay, UTC)

    def __str__(self) -> str:
        return f"slot[{self.interval:g}s, jitter {self.jitter:g}s]"


def latest_due(job: Any, now: datetime) -> datetime:
    """The last fire time of `job` that is due at `now`: missed runs coalesce into it."""
    due: datetime = job.next_run_time
    while True:
        following = job.trigger.get_next_fire_time(due, now)
        if following is None or following > now:
            return due
        due = following


class Schedule:
    """The jobs of an APScheduler scheduler (paused, used as the job store), started on
    the injected clock. `pause` takes no new runs, `resume` starts what came due meanwhile."""

    def __init__(self, clock: Clock, jobs: AsyncIOScheduler) -> None:
        self._clock = clock
        self._jobs = jobs
        self._running: dict[str, asyncio.Task[None]] = {}
        self._timer: asyncio.Task[None] | None = None
        self._paused = False

    def start(self) -> None:
        self._jobs.start(paused=True)  # APScheduler's own loop never runs: ours does
        self._wake()

    def pause(self) -> None:
        self._paused = True
        self._disarm()

    def resume(self) -> None:
        self._paused = False
        self._wake()

    def shutdown(self, wait: bool = False) -> None:
        self.pause()
        self._jobs.shutdown(wait=wait)

    def running_jobs(self) -> list[asyncio.Task[None]]:
        return [task for task in self._running.values() if not task.done()]

    def _wake(self) -> None:
        """Start every due job, then sleep until the next one is due."""
        self._disarm()
        if self._paused:
            return
        now = self._clock.now()
        for job in self._jobs.get_jobs():
            if job.next_run_time is not None and job.next_run_time <= now:
                self._start(job, now)
        upcoming = [job.next_run_time for job in self._jobs.get_jobs() if job.next_run_time]
        if upcoming:
            wait = max((min(upcoming) - now).total_seconds(), 0.0)
            self._timer = asyncio.get_running_loop().create_task(self._wake_after(wait))

    async def _wake_after(self, seconds: float) -> None:
        await self._clock.sleep(seconds)
        self._timer = None  # this task is ending: _wake must not cancel it
        self._wake()

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None

    def _start(self, job: Any, now: datetime) -> None:
        run_time = latest_due(job, now)  # every job coalesces (build_scheduler)
        following = job.trigger.get_next_fire_time(run_time, now)
        if following is None:
            self._jobs.remove_job(job.id)
        else:
            self._jobs.modify_job(job.id, next_run_time=following)
        late = (now - run_time).total_seconds()
        if job.misfire_grace_time is not None and late > job.misfire_grace_time:
            log.warning("job missed its start", job=job.id, late_seconds=round(late, 1))
            return
        running = self._running.get(job.id)
        if running is not None and not running.done():  # every job has max_instances=1
            log.warning("job still running; this run is skipped", job=job.id)
            return
        self._running[job.id] = asyncio.get_running_loop().create_task(_run(job))


async def _run(job: Any) -> None:
    try:
        await job.func(*job.args, **job.kwargs)
    except Exception:  # noqa: BLE001 - a failed run never stops the schedule
        log.exception("job failed", job=job.id)


@dataclass(frozen=True)
class JobSpec:
    name: str
    run: Job
    trigger: BaseTrigger
    first_run: datetime | None = None  # None: the trigger decides


def build_scheduler(clock: Clock, jobs: list[JobSpec], misfire_grace_seconds: int) -> Schedule:
    """A schedule of `jobs`, each coalesced, one instance at a time."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    now = clock.now()
    for spec in jobs:
        scheduler.add_job(
            spec.run,
            spec.trigger,
            id=spec.name,
            name=spec.name,
            next_run_time=spec.first_run or spec.trigger.get_next_fire_time(None, now),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=misfire_grace_seconds,
        )
    return Schedule(clock, scheduler)


def interval_trigger(seconds: float, clock: Clock, jitter: float = 0.0) -> BaseTrigger:
    """Every `seconds` from now on (APScheduler's own trigger, started from our clock)."""
    from apscheduler.triggers.interval import IntervalTrigger

    start = clock.now() + timedelta(seconds=seconds)
    trigger: BaseTrigger = IntervalTrigger(
        seconds=seconds, start_date=start, timezone=UTC, jitter=jitter or None
    )
    return trigger


def daily_trigger(hour: int, jitter: float = 0.0) -> BaseTrigger:
    from apscheduler.triggers.cron import CronTrigger

    trigger: BaseTrigger = CronTrigger(hour=hour, minute=0, timezone=UTC, jitter=jitter or None)
    return trigger
