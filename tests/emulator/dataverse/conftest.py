"""A started loopback Dataverse (standard environment) and an authorised httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from emulator.dataverse.testing import (
    LoopbackDataverse,
    api_client,
    fetch_dataverse_token,
    running_dataverse,
    standard_environment,
)


@pytest.fixture
async def dv(tmp_path: Path) -> AsyncIterator[LoopbackDataverse]:
    async with running_dataverse(standard_environment(), workdir=tmp_path, seed_value=3) as loop:
        yield loop


@pytest.fixture
async def client(dv: LoopbackDataverse) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(dv, await fetch_dataverse_token(dv)) as http:
        yield http
