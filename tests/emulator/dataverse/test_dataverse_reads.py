"""Reads: WhoAmI, query options, paging, lookups and their annotations, error shape."""

from __future__ import annotations

import httpx

from emulator.dataverse.testing import APP_USER_ID, LoopbackDataverse, rid


async def test_whoami_names_the_application_user(client: httpx.AsyncClient) -> None:
    reply = await client.get("WhoAmI")
    assert reply.status_code == 200
    body = reply.json()
    assert body["UserId"] == APP_USER_ID
    assert set(body) == {"@odata.context", "BusinessUnitId", "UserId", "OrganizationId"}
    assert body["@odata.context"].endswith("$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse")


async def test_paging_follows_next_links_to_every_row_once(client: httpx.AsyncClient) -> None:
    reply = await client.get(
        "contacts", params={"$select": "fullname"}, headers={"Prefer": "odata.maxpagesize=2"}
    )
    assert reply.headers["Preference-Applied"] == "odata.maxpagesize=2"
    first = reply.json()
    assert len(first["value"]) == 2
    assert set(first["value"][0]) == {"@odata.etag", "fullname", "contactid"}
    second = (await client.get(first["@odata.nextLink"])).json()
    assert "@odata.nextLink" not in second and "@odata.deltaLink" not in second
    names = [r["fullname"] for r in first["value"] + second["value"]]
    assert sorted(names) == ["Alex Wilber", "Bea Lind", "Chen Wu"]


async def test_page_size_is_capped_at_5000(client: httpx.AsyncClient) -> None:
    reply = await client.get("contacts", headers={"Prefer": "odata.maxpagesize=9000"})
    assert reply.headers["Preference-Applied"] == "odata.maxpagesize=5000"


async def test_filter_and_orderby_forms_a_connector_sends(client: httpx.AsyncClient) -> None:
    by_mail = await client.get(
        "contacts",
        params={"$select": "fullname", "$filter": "emailaddress1 eq 'ALEX@fabrikam.com'"},
    )
    assert [r["fullname"] for r in by_mail.json()["value"]] == ["Alex Wilber"]
    combined = await client.get(
        "contacts",
        params={
            "$select": "fullname",
            "$filter": (
                f"(_parentcustomerid_value eq {rid('account', 'fabrikam')} or fullname eq "
                "'Chen Wu') and createdon ge 2024-01-01T00:00:00Z and statecode ne 1"
            ),
            "$orderby": "fullname desc",
        },
    )
    assert [r["fullname"] for r in combined.json()["value"]] == [
        "Chen Wu",
        "Bea Lind",
        "Alex Wilber",
    ]


async def test_unknown_property_in_a_query_is_a_400_in_the_error_shape(
    client: httpx.AsyncClient,
) -> None:
    reply = await client.get("contacts", params={"$select": "fullname,shoesize"})
    assert reply.status_code == 400
    assert set(reply.json()) == {"error"}
    assert reply.json()["error"]["code"] == "0x80060888"
    assert "shoesize" in reply.json()["error"]["message"]
    bare_lookup = await client.get("contacts", params={"$select": "parentcustomerid"})
    assert bare_lookup.status_code == 400  # a lookup is read as _parentcustomerid_value


async def test_lookup_annotations_only_when_asked(client: httpx.AsyncClient) -> None:
    alex = rid("contact", "alex")
    plain = await client.get(f"contacts({alex})", params={"$select": "_parentcustomerid_value"})
    assert set(plain.json()) == {
        "@odata.context",
        "@odata.etag",
        "_parentcustomerid_value",
        "contactid",
    }
    annotated = await client.get(
        f"contacts({alex})",
        params={"$select": "_parentcustomerid_value"},
        headers={"Prefer": 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"'},
    )
    key = "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"
    listed = await client.get(
        "contacts",
        params={"$select": "fullname"},
        headers={"Prefer": 'odata.include-annotations="*"'},
    )
    assert listed.headers["Preference-Applied"] == 'odata.include-annotations="*"'

    assert annotated.json()[key] == "account"
    assert (
        "_parentcustomerid_value@OData.Community.Display.V1.FormattedValue" not in annotated.json()
    )


async def test_activity_parties_and_stakeholders_are_served(client: httpx.AsyncClient) -> None:
    parties = (await client.get("activityparties")).json()["value"]
    assert {p["participationtypemask"] for p in parties} == {1, 2, 5, 7}
    roles = await client.get("connectionroles", params={"$filter": "category eq 1000"})
    assert [r["name"] for r in roles.json()["value"]] == ["Decision Maker"]


async def test_missing_record_is_404_object_does_not_exist(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    reply = await client.get(f"contacts({rid('nobody')})")
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "0x80040217"


async def test_count_and_the_options_dataverse_refuses(client: httpx.AsyncClient) -> None:
    counted = await client.get(
        "contacts", params={"$count": "true"}, headers={"Prefer": "odata.maxpagesize=1"}
    )
    assert counted.json()["@odata.count"] == 3 and len(counted.json()["value"]) == 1
    assert (await client.get("contacts", params={"$skip": "1"})).status_code == 400
    assert (
        await client.get("contacts", params={"$expand": "parentcustomerid_account"})
    ).status_code == 400
