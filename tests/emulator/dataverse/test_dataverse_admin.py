"""The admin API over HTTP (`{url}/_emulator/...`), as a test in another process uses it."""

from __future__ import annotations

import httpx

from emulator.dataverse.testing import LoopbackDataverse, rid, ssl_context
from emulator.testing import CLIENT_ID


async def test_admin_api_changes_rows_limits_privileges_and_reads_writes(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    alex = rid("contact", "alex")
    async with httpx.AsyncClient(base_url=dv.dataverse.admin_url, verify=ssl_context(dv)) as admin:
        created = await admin.post(
            "/tables/contacts/rows",
            json={
                "fullname": "Ivo Petrov",
                "parentcustomerid_account@odata.bind": f"/accounts({rid('account', 'alpine')})",
            },
        )
        assert created.status_code == 201
        assert created.json()["_parentcustomerid_value"] == rid("account", "alpine")
        changed = await admin.patch(f"/tables/contacts/rows/{alex}", json={"jobtitle": "VP"})
        assert changed.json()["jobtitle"] == "VP"
        assert (await admin.delete(f"/tables/contacts/rows/{alex}")).status_code == 204
        missing = await admin.get(f"/tables/contacts/rows/{alex}")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "0x80040217"
        assert (await admin.post("/tables/contacts/expire")).status_code == 204
        unknown = await admin.post("/tables/people/expire")
        assert unknown.status_code == 404 and "contacts" in unknown.json()["error"]
        # this test never waits out a Retry-After: no growing wait for sending early
        limits = await admin.put(
            "/limits", json={"requestsPerWindow": 100, "earlyRetryPenalty": False}
        )
        assert limits.json()["requestsPerWindow"] == 100
        fault = await admin.post("/faults", json={"kind": "throttle", "every": 1, "limit": 1})
        assert fault.status_code == 201
        assert (await client.get("leads")).status_code == 429
        assert (await client.get("leads")).status_code == 200  # the limit was one
        bad_fault = await admin.post("/faults", json={"kind": "meteor"})
        assert bad_fault.status_code == 400
        privileges = await admin.put(
            f"/applicationUsers/{CLIENT_ID}/privileges", json={"*": ["read"]}
        )
        assert privileges.status_code == 204
        refused = await client.patch(
            f"leads({rid('lead', 1)})", json={"companyname": "x"}, headers={"If-Match": "*"}
        )
        assert refused.status_code == 403
        await admin.put(f"/applicationUsers/{CLIENT_ID}/privileges", json={"*": ["read", "write"]})
        assert (
            await client.patch(
                f"leads({rid('lead', 1)})", json={"companyname": "y"}, headers={"If-Match": "*"}
            )
        ).status_code == 204
        writes = (await admin.get("/writes")).json()
        assert [(w["operation"], w["table"], w["columns"]) for w in writes] == [
            ("update", "leads", ["companyname"])
        ]  # admin edits stand for other users: not in the write log
        stats = (await admin.get("/stats", params={"log": "1"})).json()
        assert stats["statusCounts"]["429"] == 1 and stats["log"]
        assert (await admin.post("/stats/reset")).status_code == 204
        assert (await admin.get("/stats")).json()["requests"] == 0


async def test_a_corrupted_row_is_served_as_stored_and_reaches_delta_readers(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    track = {"Prefer": "odata.track-changes"}
    baseline = (await client.get("leads", params={"$select": "statecode"}, headers=track)).json()
    lead = rid("lead", 1)
    async with httpx.AsyncClient(base_url=dv.dataverse.admin_url, verify=ssl_context(dv)) as admin:
        corrupted = await admin.patch(
            f"/tables/leads/rows/{lead}/raw", json={"statecode": "open", "emailaddress1": 12}
        )
        assert corrupted.status_code == 200
        unknown = await admin.patch(f"/tables/leads/rows/{lead}/raw", json={"shoe": 1})
        assert unknown.status_code == 404 and "shoe" in unknown.json()["error"]
    delta = (await client.get(baseline["@odata.deltaLink"])).json()["value"]
    assert delta == [{"@odata.etag": delta[0]["@odata.etag"], "statecode": "open", "leadid": lead}]
