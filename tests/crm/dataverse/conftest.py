"""A loopback Dataverse over HTTPS and the connector's client pointed at it."""

from __future__ import annotations

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

PREFIX = "rapport"


async def no_sleep(seconds: float) -> None:
    """Tests never wait; the client's gate and policy are exercised all the same."""


def connector(dv: LoopbackDataverse, **options: Any) -> DataverseClient:
    token: list[str] = []

    async def source() -> str:
        if not token:
            token.append(await fetch_dataverse_token(dv))
        return token[0]

    options.setdefault("sleep", no_sleep)
    options.setdefault("policy", RetryPolicy(attempts=12, initial_wait_seconds=0.01))
    return DataverseClient(Environment(dv.url), source, verify=ssl_context(dv), **options)


@pytest.fixture
def environment() -> dict[str, Any]:
    return standard_environment()


@pytest.fixture
async def dv(tmp_path: Path, environment: dict[str, Any]) -> AsyncIterator[LoopbackDataverse]:
    async with running_dataverse(environment, workdir=tmp_path, seed_value=3) as loop:
        yield loop


@pytest.fixture
async def client(dv: LoopbackDataverse) -> AsyncIterator[DataverseClient]:
    async with connector(dv) as http:
        yield http


@pytest.fixture
def make_client(dv: LoopbackDataverse) -> Callable[..., DataverseClient]:
    return lambda **options: connector(dv, **options)
