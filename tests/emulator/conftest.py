"""Fixtures for the emulator's own tests: a started emulator and an authorised httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.app import Emulator
from emulator.testing import FixtureBuilder, fetch_token, running_emulator


@pytest.fixture
def fixture_dict() -> dict[str, Any]:
    return FixtureBuilder.standard().build()


@pytest.fixture
async def emulator(fixture_dict: dict[str, Any], tmp_path: Path) -> AsyncIterator[Emulator]:
    async with running_emulator(fixture_dict, workdir=tmp_path, seed=7) as running:
        yield running


@pytest.fixture
async def graph(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    token = await fetch_token(emulator)
    async with httpx.AsyncClient(
        base_url=emulator.graph_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as client:
        yield client
