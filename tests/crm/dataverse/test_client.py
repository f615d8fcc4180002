"""The client against the loopback Dataverse: host pin, throttling, retries, counters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crm.dataverse.client import DataverseClient
from crm.dataverse.exceptions import HostRefused, RecordMissing
from emulator.dataverse.testing import LoopbackDataverse
from tests.crm.dataverse.conftest import VirtualClock


async def test_who_am_i_names_the_application_user(client: DataverseClient) -> None:
    reply = await client.get("WhoAmI")
    assert reply.body["UserId"] == "7a1d0000-0000-4000-8000-00000000a5e2"
    assert client.counters.requests == 1


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/api/data/v9.2/contacts",
        "{origin}.evil.example/api/data/v9.2/contacts",
        "{origin}/api/data/v9.2/../../steal",
        "{origin}/somewhere/else",
    ],
)
async def test_a_link_off_the_environment_is_refused_before_the_token_leaves(
    client: DataverseClient, dv: LoopbackDataverse, link: str
) -> None:
    with pytest.raises(HostRefused):
        await client.get(link.format(origin=dv.url))
    assert client.counters.requests == 0


async def test_a_throttling_storm_is_ridden_out_with_the_whole_client_backing_off(
    dv: LoopbackDataverse, make_client: Callable[..., DataverseClient]
) -> None:
    dv.dataverse.add_fault(kind="throttle", fraction=0.3, retryAfter=2)
    clock = dv.dataverse.service.protection.clock
    assert isinstance(clock, VirtualClock)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await clock.sleep(seconds)

    async with make_client(sleep=sleep) as client:
        for _ in range(30):
            assert (await client.get("contacts", params={"$select": "fullname"})).body["value"]
    assert client.counters.throttles > 0
    assert client.counters.retries == client.counters.throttles
    # The gate held every request back by Retry-After while throttled.
    gated = [wait for wait in slept if wait]  # tenacity's own wait after a 429 is 0
    assert gated and all(wait == pytest.approx(2.0) for wait in gated)
    assert dv.dataverse.stats()["throttled"] == client.counters.throttles
    assert dv.dataverse.stats()["earlyRetries"] == 0  # nothing sent while throttled


async def test_server_errors_are_retried_and_counted(
    dv: LoopbackDataverse, make_client: Callable[..., DataverseClient]
) -> None:
    dv.dataverse.add_fault(kind="unavailable", every=2, limit=3)
    async with make_client() as client:
        for _ in range(4):
            await client.get("accounts")
    assert client.counters.retries == 3
    assert client.counters.by_status[503] == 3


async def test_a_missing_record_is_not_retried(client: DataverseClient) -> None:
    with pytest.raises(RecordMissing):
        await client.get("contacts(00000000-0000-0000-0000-000000000001)")
    assert client.counters.requests == 1
