"""Authentication, privileges and service-protection 429s."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from emulator.dataverse.testing import (
    APP_USER_ID,
    LoopbackDataverse,
    api_client,
    fetch_dataverse_token,
)
from emulator.testing import CLIENT_ID, fetch_token


async def test_request_limit_per_user_answers_429_with_retry_after(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    dv.dataverse.set_limits(requests_per_window=3, window_seconds=300)
    statuses = [(await client.get("WhoAmI")).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    throttled = await client.get("WhoAmI")
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "0x80072322"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 300
    assert dv.dataverse.stats()["throttled"] == 1


async def test_injected_fraction_of_429s_is_seeded_and_scoped(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    dv.dataverse.set_limits(early_retry_penalty=False)  # this test never waits
    dv.dataverse.add_fault(kind="throttle", fraction=0.3, retryAfter=2, table="contacts")
    statuses = Counter([(await client.get("contacts")).status_code for _ in range(60)])
    assert set(statuses) == {200, 429} and 8 <= statuses[429] <= 30
    assert all([(await client.get("leads")).status_code == 200 for _ in range(10)])
    dv.dataverse.clear_faults()
    assert (await client.get("contacts")).status_code == 200


async def test_no_token_or_a_graph_token_is_401(dv: LoopbackDataverse) -> None:
    async with api_client(dv, "not-a-jwt") as http:
        garbled = await http.get("WhoAmI")
    assert garbled.status_code == 401
    assert garbled.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    async with api_client(dv, await fetch_token(dv.graph)) as http:
        wrong_audience = await http.get("WhoAmI")
    assert wrong_audience.status_code == 401


async def test_the_nominal_environment_scope_is_accepted(dv: LoopbackDataverse) -> None:
    token = await fetch_dataverse_token(dv, scope="https://contoso.crm.dynamics.com/.default")
    async with api_client(dv, token) as http:
        assert (await http.get("WhoAmI")).status_code == 200


async def test_an_app_without_an_application_user_is_not_a_member(
    dv: LoopbackDataverse,
) -> None:
    dv.dataverse.environment.application_users.pop(CLIENT_ID)
    async with api_client(dv, await fetch_dataverse_token(dv)) as http:
        reply = await http.get("WhoAmI")
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "0x80072560"


async def test_missing_privileges_are_403_naming_the_privilege(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    dv.dataverse.set_privileges(CLIENT_ID, {"*": ["read"], "contact": []})
    denied = await client.get("contacts")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "0x80040220"
    assert "missing prvReadContact privilege" in denied.json()["error"]["message"]
    assert (await client.get("leads")).status_code == 200
    write = await client.patch(
        "leads(00000000-0000-0000-0000-000000000001)",
        json={"companyname": "x"},
        headers={"If-Match": "*"},
    )
    assert write.status_code == 403
    assert "prvWriteLead" in write.json()["error"]["message"]
    column = await client.post("EntityDefinitions(LogicalName='contact')/Attributes", json={})
    assert column.status_code == 403
    assert "prvCreateAttribute" in column.json()["error"]["message"]


async def test_concurrent_requests_over_the_limit_are_429_and_counted(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    dv.dataverse.set_limits(concurrent_requests=2, early_retry_penalty=False)
    dv.dataverse.add_fault(kind="latency", latencyMs=300, fraction=1.0)
    replies = await asyncio.gather(*(client.get("WhoAmI") for _ in range(5)))
    statuses = Counter(r.status_code for r in replies)
    assert statuses == Counter({200: 2, 429: 3})
    refused = next(r for r in replies if r.status_code == 429)
    assert refused.json()["error"]["code"] == "0x80072326"
    assert refused.headers["Retry-After"] == "1"
    assert dv.dataverse.stats()["peakConcurrency"] == 3
    dv.dataverse.clear_faults()
    assert (await client.get("WhoAmI")).status_code == 200  # the refused ones left no trace


async def test_requests_sent_while_throttled_are_refused_and_the_wait_grows(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    now = [1000.0]
    dv.dataverse.service.protection.clock = lambda: now[0]
    dv.dataverse.add_fault(kind="throttle", every=1, limit=1, retryAfter=5)
    assert (await client.get("leads")).status_code == 429
    now[0] += 2  # too early: the client did not wait the 5 s it was told
    early = await client.get("leads")
    assert early.status_code == 429 and early.json()["error"]["code"] == "0x80072322"
    assert early.headers["Retry-After"] == "8"  # 3 s left, and 5 s more for sending early
    now[0] += 4  # the first wait has passed, the grown one has not
    assert (await client.get("leads")).status_code == 429
    now[0] += 20
    assert (await client.get("leads")).status_code == 200
    assert dv.dataverse.stats()["earlyRetries"] == 2


async def test_combined_execution_time_over_the_window_is_429_until_it_drains(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    now = [1000.0]
    dv.dataverse.service.protection.clock = lambda: now[0]
    dv.dataverse.set_limits(execution_seconds=0.25, window_seconds=60)
    dv.dataverse.add_fault(kind="latency", latencyMs=100, fraction=1.0)
    replies = []
    for _ in range(4):
        replies.append(await client.get("WhoAmI"))
        now[0] += 1
    assert [r.status_code for r in replies] == [200, 200, 200, 429]  # 0.3 s spent by three
    refused = replies[-1]
    assert refused.json()["error"]["code"] == "0x80072321"
    assert "Combined execution time" in refused.json()["error"]["message"]
    # the first request's time leaves the window 60 s after it finished (3 s before)
    assert int(refused.headers["Retry-After"]) == 57
    now[0] += 57
    assert (await client.get("WhoAmI")).status_code == 200


async def test_limits_are_set_and_read_through_the_admin_api(dv: LoopbackDataverse) -> None:
    async with httpx.AsyncClient(verify=False) as http:  # noqa: S501 - loopback admin API
        reply = await http.put(
            f"{dv.dataverse.admin_url}/limits",
            json={"executionSeconds": 30, "earlyRetryPenalty": False},
        )
    assert reply.status_code == 200
    assert reply.json()["executionSeconds"] == 30.0
    assert reply.json()["earlyRetryPenalty"] is False


async def test_retrieve_user_privileges_lists_what_the_application_user_holds(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    dv.dataverse.set_privileges(CLIENT_ID, {"*": ["read"], "contact": ["read", "write"]})
    reply = await client.get(
        f"systemusers({APP_USER_ID})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"
    )
    assert reply.status_code == 200
    names = {p["PrivilegeName"] for p in reply.json()["RolePrivileges"]}
    assert {"prvReadContact", "prvWriteContact", "prvReadLead"} <= names
    assert "prvWriteLead" not in names and "prvCreateAttribute" not in names
    assert {p["Depth"] for p in reply.json()["RolePrivileges"]} == {"Global"}
