"""The worker's schedule: APScheduler 3 on asyncio, driven by an injected clock.

APScheduler reads the wall clock and arms `loop.call_later` itself. Here
both come from a `Clock` (`now()` and `sleep()`), so a test advances virtual
time and sees jobs start at exactly the times the triggers promise, without
waiting. The scheduler keeps APScheduler's job semantics: coalescing,
`max_instances`, misfire grace.

Sync rounds fire on a grid: at every multiple of the interval since the
epoch (UTC) plus a random jitter, so every replica starts its round in the
same slot and a slot is one round for all of them (see worker/leases.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.executors.base import MaxInstancesReachedError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_PAUSED
from apscheduler.triggers.base import BaseTrigger

log = logging.getLogger("rapport.scheduler")
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


class ClockedExecutor(AsyncIOExecutor):  # type: ignore[misc]
    """Runs coroutine jobs as tasks; misfires are judged by the injected clock."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self._clock = clock

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        task = self._eventloop.create_task(self._run(job, run_times))
        task.add_done_callback(lambda done: self._finished(job.id, done))
        self._pending_futures.add(task)

    def _finished(self, job_id: str, task: asyncio.Task[list[Any]]) -> None:
        self._pending_futures.discard(task)
        if task.cancelled():
            self._run_job_error(job_id, asyncio.CancelledError())
        else:
            self._run_job_success(job_id, task.result())

    async def _run(self, job: Any, run_times: list[datetime]) -> list[Any]:
        events: list[Any] = []
        for run_time in run_times:
            late = self._clock.now() - run_time
            alias = job._jobstore_alias
            if job.misfire_grace_time is not None and late.total_seconds() > job.misfire_grace_time:
                log.warning("job missed its start", extra={"fields": {
                    "job": job.id, "late_seconds": round(late.total_seconds(), 1)}})  # fmt: skip
                events.append(JobExecutionEvent(EVENT_JOB_MISSED, job.id, alias, run_time))
                continue
            try:
                value = await job.func(*job.args, **job.kwargs)
            except Exception as error:  # noqa: BLE001 - a failed run never stops the schedule
                log.exception("job failed", extra={"fields": {"job": job.id}})
                events.append(JobExecutionEvent(EVENT_JOB_ERROR, job.id, alias, run_time,
                                                exception=error))  # fmt: skip
            else:
                events.append(JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, alias, run_time,
                                                retval=value))  # fmt: skip
        return events

    def running(self) -> list[asyncio.Future[Any]]:
        return [future for future in self._pending_futures if not future.done()]


class ClockedScheduler(AsyncIOScheduler):  # type: ignore[misc]
    """AsyncIOScheduler whose notion of time is `clock` (APScheduler 3 reads the wall clock)."""

    def __init__(self, clock: Clock, **options: Any) -> None:
        self._clock = clock
        self._timer: asyncio.Task[None] | None = None
        self.executor = ClockedExecutor(clock)
        super().__init__(timezone=UTC, executors={"default": self.executor}, **options)

    def _start_timer(self, wait_seconds: float | None) -> None:
        self._stop_timer()
        if wait_seconds is not None:
            self._timer = self._eventloop.create_task(self._wake_after(wait_seconds))

    async def _wake_after(self, seconds: float) -> None:
        await self._clock.sleep(seconds)
        self.wakeup()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None

    def _process_jobs(self) -> float | None:
        """APScheduler's loop body, with `now` from the clock."""
        if self.state == STATE_PAUSED:
            return None
        now = self._clock.now()
        events: list[Any] = []
        next_wakeup: datetime | None = None
        with self._jobstores_lock:
            for alias, store in self._jobstores.items():
                for job in store.get_due_jobs(now):
                    events.extend(self._submit(job, alias, store, now))
                store_next = store.get_next_run_time()
                if store_next and (next_wakeup is None or store_next < next_wakeup):
                    next_wakeup = store_next
        for event in events:
            self._dispatch_event(event)
        if self.state == STATE_PAUSED or next_wakeup is None:
            return None
        return max((next_wakeup - self._clock.now()).total_seconds(), 0.0)

    def _submit(self, job: Any, alias: str, store: Any, now: datetime) -> list[Any]:
        run_times = job._get_run_times(now)
        if not run_times:
            return []
        if job.coalesce:
            run_times = run_times[-1:]
        try:
            self._lookup_executor(job.executor).submit_job(job, run_times)
            kind = EVENT_JOB_SUBMITTED
        except MaxInstancesReachedError:
            log.warning("job still running; this run is skipped", extra={"fields": {
                "job": job.id}})  # fmt: skip
            kind = EVENT_JOB_MAX_INSTANCES
        following = job.trigger.get_next_fire_time(run_times[-1], now)
        if following:
            job._modify(next_run_time=following)
            store.update_job(job)
        else:
            self.remove_job(job.id, alias)
        return [JobSubmissionEvent(kind, job.id, alias, run_times)]

    def running_jobs(self) -> list[asyncio.Future[Any]]:
        return self.executor.running()


@dataclass(frozen=True)
class JobSpec:
    name: str
    run: Job
    trigger: BaseTrigger
    first_run: datetime | None = None  # None: the trigger decides


def build_scheduler(clock: Clock, jobs: list[JobSpec], misfire_grace_seconds: int) -> Any:
    """A scheduler holding `jobs`, each coalesced, one instance at a time."""
    scheduler = ClockedScheduler(clock)
    now = clock.now()
    for spec in jobs:
        scheduler.add_job(
            spec.run, spec.trigger, id=spec.name, name=spec.name,
            next_run_time=spec.first_run or spec.trigger.get_next_fire_time(None, now),
            coalesce=True, max_instances=1, misfire_grace_time=misfire_grace_seconds,
        )  # fmt: skip
    return scheduler


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
