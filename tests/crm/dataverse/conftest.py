"""A loopback Dataverse over HTTPS and the connector's client pointed at it.

They share a virtual clock: the client's waits (a Retry-After, a backoff) move it on at
once, and the loopback Dataverse judges by it whether the client waited as told (a
request sent while throttled is refused and the wait grows, as in Dataverse)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from crm.dataverse.client import DataverseClient
from crm.dataverse.environment import Environment
from crm.dataverse.retry import RetryPolicy
from emulator.dataverse.testing import (
    LoopbackDataverse,
    fetch_dataverse_token,
    running_dataverse,
    ssl_context,
    standard_environment,
)
from tests.worker.service.harness import free_port

PREFIX = "rapport"


class VirtualClock:
    """Seconds since 1970 that pass only when someone sleeps."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


async def no_sleep(seconds: float) -> None:
    """Tests never wait; the client's gate and policy are exercised all the same."""


def connector(dv: LoopbackDataverse, **options: Any) -> DataverseClient:
    token: list[str] = []

    async def source() -> str:
        if not token:
            token.append(await fetch_dataverse_token(dv))
        return token[0]

    clock = dv.dataverse.service.protection.clock
    if isinstance(clock, VirtualClock):  # tests never wait, yet wait as the emulator tells
        options.setdefault("sleep", clock.sleep)
        options.setdefault("clock", clock)
    options.setdefault("sleep", no_sleep)
    options.setdefault("policy", RetryPolicy(attempts=12, initial_wait_seconds=0.01))
    return DataverseClient(Environment(dv.url), source, verify=ssl_context(dv), **options)


@pytest.fixture
def environment() -> dict[str, Any]:
    return standard_environment()


@pytest.fixture
async def dv(tmp_path: Path, environment: dict[str, Any]) -> AsyncIterator[LoopbackDataverse]:
    clock = VirtualClock()
    async with running_dataverse(environment, workdir=tmp_path, seed_value=3, clock=clock) as loop:
        yield loop


@pytest.fixture
async def client(dv: LoopbackDataverse) -> AsyncIterator[DataverseClient]:
    async with connector(dv) as http:
        yield http


@pytest.fixture
def make_client(dv: LoopbackDataverse) -> Callable[..., DataverseClient]:
    return lambda **options: connector(dv, **options)


def worker_environment(dv: LoopbackDataverse, database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a `rapport worker` process using this loopback Dataverse (and its
    token service): no RAPPORT_* of this process, JSON logs, the store migrated at start,
    metrics on a free port (the default 9464 may be taken, by a test running beside it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    rapport = {
        "database_url": database_url,
        "tenant_id": dv.tenant_id,
        "client_id": dv.client_id,
        "client_secret": dv.client_secret,
        "authority_host": dv.authority,
        "graph_base_url": dv.graph.graph_url,
        "dataverse_url": dv.url,
        "auto_migrate": "true",
        "log_format": "json",
        "metrics_port": str(free_port()),
        **settings,
    }
    env.update({f"RAPPORT_{name.upper()}": value for name, value in rapport.items()})
    env["SSL_CERT_FILE"] = env["REQUESTS_CA_BUNDLE"] = str(dv.ca_pem_path)
    return env
