"""`rapport worker`: the long-running service.

Start: refuse a web job whose sign-in is not configured (RAPPORT_WORKER_WEB=on),
refuse a SQLite path holding no store (unless RAPPORT_AUTO_MIGRATE=true), refuse a
second worker on SQLite, open the HTTP endpoint (alive at once,
ready later), wait for the database, check (or migrate) the schema, serve
the web app (when on), announce the replica, reset what a previous crash
left in "syncing", start the schedule.

Stop (SIGTERM, SIGINT): take no new work (the scheduler pauses), ask the
sync round to stop between pages (the page in hand and its cursor are
committed; unreached mailboxes end "interrupted"), wait for running jobs up
to the shutdown budget, release every lease, exit 0. A scoring run still
going after the budget is abandoned: its batches are idempotent and the next
run redoes them. The web app stops with the rest (uvicorn finishes the
requests in hand).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from datetime import timedelta
from typing import Any

import structlog
import uvicorn
from sqlalchemy import exc as sa_exc

from storage.engine import redacted
from worker.failures import UserError
from worker.log import get_logger
from worker.service.health_server import HealthServer
from worker.service.jobs import Jobs
from worker.service.leases import ReplicaLeases
from worker.service.metrics import ServiceMetrics
from worker.service.scheduler import (
    Clock,
    JobSpec,
    Schedule,
    SlotTrigger,
    SystemClock,
    build_scheduler,
    daily_trigger,
    interval_trigger,
)
from worker.service.single_worker import single_worker
from worker.service.start import (
    UNREACHABLE,
    prepare_schema,
    replica_name,
    require_store,
    service_engine,
    wait_for_database,
)
from worker.settings import Settings

log = get_logger("rapport.worker")


NEWS_EVERY_SECONDS = 3600.0  # What's New: feeds change by the hour, not the minute


def job_specs(jobs: Jobs, settings: Settings, clock: Clock) -> list[JobSpec]:
    ttl = settings.lease_ttl_seconds
    beat = max(ttl / 3, 0.5)
    return [
        # The first round runs at once; then one per slot of the grid.
        JobSpec(
            "sync",
            jobs.sync,
            SlotTrigger(settings.sync_interval_seconds, settings.sync_jitter_seconds),
            first_run=clock.now(),
        ),
        JobSpec(
            "scoring",
            jobs.scheduled_scoring,
            interval_trigger(settings.scoring_interval_seconds, clock),
        ),
        JobSpec("retention", jobs.retention, daily_trigger(settings.retention_hour_utc, 600)),
        JobSpec("news", jobs.news, interval_trigger(NEWS_EVERY_SECONDS, clock)),
        JobSpec("heartbeat", jobs.heartbeat, interval_trigger(beat, clock)),
        JobSpec("watchdog", jobs.watchdog, interval_trigger(min(max(ttl, 1.0), 60.0), clock)),
    ]


class Service:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.replica = replica_name(settings)
        self.engine = service_engine(settings, self.replica)
        self.metrics = ServiceMetrics()
        self.leases = ReplicaLeases(
            self.engine, self.replica, timedelta(seconds=settings.lease_ttl_seconds), self.clock
        )
        self.jobs = Jobs(self.engine, settings, self.clock, self.leases, self.metrics)
        self.stop_requested = asyncio.Event()
        self.web: uvicorn.Server | None = None
        self.web_task: asyncio.Task[None] | None = None

    def request_stop(self, reason: str) -> None:
        if self.stop_requested.is_set():
            log.info("already stopping", signal=reason)
            return
        log.info("stopping", signal=reason)
        self.stop_requested.set()
        self.jobs.stopping.set()  # the sync round stops between pages at once

    async def run(self) -> None:
        # Every event of this task names the replica: the tasks, threads and signal
        # handlers started from here copy the context (graph_sync's events included).
        structlog.contextvars.bind_contextvars(replica=self.replica)
        if self.settings.worker_web == "on":
            self.web = self._web_server()  # refused (exit 2) before anything starts
        require_store(self.settings)  # no store at a SQLite path: exit 4, no file left
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, self.request_stop, signal.Signals(number).name)
        with single_worker(self.settings.database_url, now=self.clock.now()):
            try:
                await self._serve()
            finally:
                self.engine.dispose()

    async def _serve(self) -> None:
        settings = self.settings
        # Alive (/healthz) at once; ready (/readyz) once the database and schema are.
        health = HealthServer(
            self.engine, self.metrics, self.clock, settings.metrics_host, settings.metrics_port
        )
        port = await self._listen(health) if settings.metrics_port else None
        try:
            await wait_for_database(
                self.engine, settings.database_wait_seconds, stop=self.stop_requested.is_set
            )
            await asyncio.to_thread(prepare_schema, self.engine, auto_migrate=settings.auto_migrate)
        except BaseException as error:
            await health.stop()
            if isinstance(error, UNREACHABLE) and self.stop_requested.is_set():
                return  # asked to stop while waiting for the database: a clean exit
            raise
        if self.web is not None:
            await self._start_web(self.web, health)
        await self.leases.announce()
        await self.jobs.watchdog()
        scheduler = build_scheduler(
            self.clock, job_specs(self.jobs, settings, self.clock), settings.misfire_grace_seconds
        )
        scheduler.start()
        log.info(
            "worker started",
            database=redacted(settings.database_url),
            metrics_port=port,
            web_port=settings.worker_web_port if self.web is not None else None,
            sync_interval_seconds=settings.sync_interval_seconds,
            lease_ttl_seconds=settings.lease_ttl_seconds,
        )
        await self.stop_requested.wait()
        await self._stop(scheduler, health)

    async def _listen(self, health: HealthServer) -> int:
        try:
            return await health.start()
        except OSError as error:
            raise UserError(
                f"RAPPORT_METRICS_PORT={self.settings.metrics_port}: cannot listen on "
                f"{self.settings.metrics_host} ({error.strerror}); choose another port, "
                "or 0 for no HTTP endpoint"
            ) from None

    def _web_server(self) -> uvicorn.Server:
        from web.serve import StartRefused, check_start, web_server

        host, port = self.settings.worker_web_host, self.settings.worker_web_port
        try:
            web_settings = check_start(host, port, trial=False)
        except StartRefused as refusal:
            raise UserError(f"RAPPORT_WORKER_WEB=on: {refusal}") from None
        return web_server(self.engine, web_settings, host=host, port=port)

    async def _start_web(self, server: uvicorn.Server, health: HealthServer) -> None:
        host, port = self.settings.worker_web_host, self.settings.worker_web_port
        try:  # bound here, so a taken port is one line (uvicorn would exit the process)
            listening = socket.create_server((host, port), reuse_port=False)
        except OSError as error:
            await health.stop()
            raise UserError(
                f"RAPPORT_WORKER_WEB_PORT={port}: the web app cannot listen on {host} "
                f"({error.strerror}); choose another port or host"
            ) from None
        self.web_task = asyncio.create_task(server.serve(sockets=[listening]))
        while not server.started and not self.web_task.done():
            await asyncio.sleep(0.05)

    async def _stop_web(self) -> None:
        if self.web is None or self.web_task is None:
            return
        self.web.should_exit = True
        _, late = await asyncio.wait(
            [self.web_task], timeout=self.settings.shutdown_timeout_seconds
        )
        for task in late:
            task.cancel()

    async def _stop(self, scheduler: Schedule, health: HealthServer) -> None:
        scheduler.pause()
        running = [*scheduler.running_jobs()]
        if self.jobs.scoring_task is not None and not self.jobs.scoring_task.done():
            running.append(self.jobs.scoring_task)
        budget = self.settings.shutdown_timeout_seconds
        late: set[asyncio.Future[Any]] = set()
        if running:
            _, late = await asyncio.wait(running, timeout=budget)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=1.0)
        try:
            await self.leases.leave()
        except sa_exc.DBAPIError as error:
            log.warning(
                "leases not released; they lapse after their TTL", error=type(error.orig).__name__
            )
        await self._stop_web()
        await health.stop()
        scheduler.shutdown(wait=False)
        log.info("worker stopped", abandoned_jobs=len(late))
        if late:
            # A job's thread (scoring) is still inside a batch: the process ends anyway,
            # the database rolls that batch back, and the next run redoes it.
            self.engine.dispose()
            logging.shutdown()
            os._exit(0)


def run_worker(settings: Settings) -> None:
    asyncio.run(Service(settings).run())
