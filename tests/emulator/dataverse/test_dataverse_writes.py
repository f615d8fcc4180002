"""Writes: PATCH with If-Match, UpdateMultiple, columns from the metadata API, $batch."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from emulator.dataverse.testing import LoopbackDataverse, rid

NAVIGATION = "Microsoft.Dynamics.CRM.associatednavigationproperty"
LOOKUP = "Microsoft.Dynamics.CRM.lookuplogicalname"
HEALTH_SCORE = {
    "@odata.type": "Microsoft.Dynamics.CRM.IntegerAttributeMetadata",
    "SchemaName": "rapport_HealthScore",
    "DisplayName": {"LocalizedLabels": [{"Label": "Health score", "LanguageCode": 1033}]},
    "RequiredLevel": {"Value": "None"},
    "MinValue": 0,
    "MaxValue": 100,
}
HEALTH_STATE = {
    "@odata.type": "Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
    "SchemaName": "rapport_HealthState",
    "DisplayName": {"LocalizedLabels": [{"Label": "Health state", "LanguageCode": 1033}]},
    "OptionSet": {
        "IsGlobal": False,
        "OptionSetType": "Picklist",
        "Options": [
            {"Value": 0, "Label": {"LocalizedLabels": [{"Label": "Good", "LanguageCode": 1033}]}},
            {"Value": 1, "Label": {"LocalizedLabels": [{"Label": "Fair", "LanguageCode": 1033}]}},
        ],
    },
}


async def _provision(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "EntityDefinitions(LogicalName='contact')/Attributes",
        json=body,
        headers={"MSCRM.SolutionUniqueName": "rapport"},
    )


async def test_unknown_column_is_refused_until_provisioned(client: httpx.AsyncClient) -> None:
    alex = rid("contact", "alex")
    refused = await client.patch(
        f"contacts({alex})", json={"rapport_healthscore": 70}, headers={"If-Match": "*"}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "0x80060888"
    assert (
        "The property 'rapport_healthscore' does not exist on type "
        in (refused.json()["error"]["message"])
    )
    created = await _provision(client, HEALTH_SCORE)
    assert created.status_code == 204
    assert "/Attributes(" in created.headers["OData-EntityId"]
    accepted = await client.patch(
        f"contacts({alex})", json={"rapport_healthscore": 70}, headers={"If-Match": "*"}
    )
    assert accepted.status_code == 204
    row = await client.get(f"contacts({alex})", params={"$select": "rapport_healthscore"})
    assert row.json()["rapport_healthscore"] == 70


async def test_creating_a_column_twice_is_refused_and_listing_shows_it_once(
    client: httpx.AsyncClient,
) -> None:
    assert (await _provision(client, HEALTH_STATE)).status_code == 204
    again = await _provision(client, HEALTH_STATE)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "0x80047013"
    listed = await client.get(
        "EntityDefinitions(LogicalName='contact')/Attributes",
        params={"$select": "LogicalName,SchemaName", "$filter": "IsCustomAttribute eq true"},
    )
    assert [a["LogicalName"] for a in listed.json()["value"]] == ["rapport_healthstate"]
    assert listed.json()["value"][0]["@odata.type"] == (
        "#Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
    )


async def test_patch_with_if_match_star_never_creates(client: httpx.AsyncClient) -> None:
    missing = rid("contact", "ghost")
    reply = await client.patch(
        f"contacts({missing})", json={"jobtitle": "CEO"}, headers={"If-Match": "*"}
    )
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "0x80040217"
    assert (await client.get(f"contacts({missing})")).status_code == 404


async def test_update_multiple_writes_every_target_and_logs_columns(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    await _provision(client, HEALTH_SCORE)
    targets = [
        {
            "@odata.type": "Microsoft.Dynamics.CRM.contact",
            "contactid": rid("contact", n),
            "rapport_healthscore": score,
        }
        for n, score in (("alex", 80), ("bea", 40))
    ]
    reply = await client.post(
        "contacts/Microsoft.Dynamics.CRM.UpdateMultiple", json={"Targets": targets}
    )
    assert reply.status_code == 204
    writes = [w for w in dv.dataverse.writes() if w["operation"] == "UpdateMultiple"]
    assert [(w["id"], w["columns"], w["rolledBack"]) for w in writes] == [
        (rid("contact", "alex"), ["rapport_healthscore"], False),
        (rid("contact", "bea"), ["rapport_healthscore"], False),
    ]


async def test_update_multiple_with_a_missing_target_writes_nothing(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    targets = [
        {
            "@odata.type": "Microsoft.Dynamics.CRM.contact",
            "contactid": rid("contact", "alex"),
            "jobtitle": "CTO",
        },
        {
            "@odata.type": "Microsoft.Dynamics.CRM.contact",
            "contactid": rid("contact", "gone"),
            "jobtitle": "CTO",
        },
    ]
    reply = await client.post(
        "contacts/Microsoft.Dynamics.CRM.UpdateMultiple", json={"Targets": targets}
    )
    assert reply.status_code == 404
    assert dv.dataverse.row("contacts", rid("contact", "alex"))["jobtitle"] is None
    assert all(w["rolledBack"] for w in dv.dataverse.writes())


def _part(method: str, url: str, body: dict[str, Any] | None, content_id: int) -> str:
    lines = [
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        f"Content-ID: {content_id}",
        "",
        f"{method} {url} HTTP/1.1",
        "Content-Type: application/json",
        "If-Match: *",
        "",
        json.dumps(body) if body is not None else "",
    ]
    return "\r\n".join(lines)


def _batch(dv: LoopbackDataverse, change_sets: list[list[str]]) -> tuple[str, str]:
    boundary = f"batch_{uuid.uuid4()}"
    chunks = []
    for parts in change_sets:
        inner = f"changeset_{uuid.uuid4()}"
        body = "".join(f"--{inner}\r\n{p}\r\n" for p in parts) + f"--{inner}--"
        chunks.append(
            f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={inner}\r\n\r\n{body}\r\n"
        )
    return f"multipart/mixed; boundary={boundary}", "".join(chunks) + f"--{boundary}--\r\n"


async def test_batch_change_set_with_a_failure_rolls_back_and_the_next_commits(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    api = dv.api_url
    failing = [
        _part("PATCH", f"{api}/contacts({rid('contact', 'alex')})", {"jobtitle": "CFO"}, 1),
        _part("PATCH", f"{api}/contacts({rid('contact', 'ghost')})", {"jobtitle": "CFO"}, 2),
    ]
    passing = [
        _part("PATCH", f"{api}/contacts({rid('contact', 'bea')})", {"jobtitle": "COO"}, 3),
        _part("PATCH", f"{api}/leads({rid('lead', 1)})", {"companyname": "Northwind Ltd"}, 4),
    ]
    content_type, body = _batch(dv, [failing, passing])
    reply = await client.post(
        "$batch",
        content=body.encode(),
        headers={"Content-Type": content_type, "Prefer": "odata.continue-on-error"},
    )
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("multipart/mixed; boundary=batchresponse_")
    text = reply.text
    assert "HTTP/1.1 404 Not Found" in text and "0x80040217" in text
    assert text.count("HTTP/1.1 204 No Content") == 2
    assert dv.dataverse.row("contacts", rid("contact", "alex"))["jobtitle"] is None
    assert dv.dataverse.row("contacts", rid("contact", "bea"))["jobtitle"] == "COO"
    logged = [(w["id"], w["rolledBack"], w["inBatch"]) for w in dv.dataverse.writes()]
    assert logged == [
        (rid("contact", "alex"), True, True),
        (rid("contact", "bea"), False, True),
        (rid("lead", 1), False, True),
    ]


async def test_batch_of_more_than_1000_operations_is_refused(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    url = f"{dv.api_url}/contacts({rid('contact', 'alex')})"
    parts = [_part("PATCH", url, {"jobtitle": "x"}, n) for n in range(1001)]
    content_type, body = _batch(dv, [parts])
    reply = await client.post(
        "$batch", content=body.encode(), headers={"Content-Type": content_type}
    )
    assert reply.status_code == 400
    assert "1000" in reply.json()["error"]["message"]
    assert dv.dataverse.writes() == []


async def test_patch_with_a_stale_etag_is_412_and_without_if_match_upserts(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    alex = rid("contact", "alex")
    etag = (await client.get(f"contacts({alex})")).json()["@odata.etag"]
    fresh = await client.patch(
        f"contacts({alex})", json={"jobtitle": "A"}, headers={"If-Match": etag}
    )
    assert fresh.status_code == 204
    stale = await client.patch(
        f"contacts({alex})", json={"jobtitle": "B"}, headers={"If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "0x80060882"
    assert dv.dataverse.row("contacts", alex)["jobtitle"] == "A"
    new_id = rid("contact", "upserted")
    upsert = await client.patch(f"contacts({new_id})", json={"fullname": "New Person"})
    assert upsert.status_code == 204
    assert dv.dataverse.row("contacts", new_id)["fullname"] == "New Person"
    assert dv.dataverse.writes()[-1]["operation"] == "upsert"


async def test_change_set_content_id_references_reach_the_created_row(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    create = _part("POST", f"{dv.api_url}/contacts", {"fullname": "Gia Rossi"}, 1)
    update = _part("PATCH", "$1", {"jobtitle": "Head of IT"}, 2)
    content_type, body = _batch(dv, [[create, update]])
    reply = await client.post(
        "$batch", content=body.encode(), headers={"Content-Type": content_type}
    )
    assert reply.status_code == 200
    assert reply.text.count("HTTP/1.1 204 No Content") == 2
    created = dv.dataverse.writes()[0]["id"]
    row = dv.dataverse.row("contacts", created)
    assert (row["fullname"], row["jobtitle"]) == ("Gia Rossi", "Head of IT")


async def test_an_activity_binds_its_regarding_by_the_navigation_property_of_its_own_table(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    """Dataverse names the regarding relationships per activity table
    (regardingobjectid_opportunity_email, ..._phonecall, ...): the bare per-target name of
    other multi-table lookups, or another activity's name, is an undeclared property."""
    deal = rid("opportunity", "fabrikam-renewal")
    for entity_set, logical in (
        ("emails", "email"),
        ("appointments", "appointment"),
        ("phonecalls", "phonecall"),
        ("tasks", "task"),
    ):
        bound = f"regardingobjectid_opportunity_{logical}"
        created = await client.post(
            entity_set,
            json={"subject": "Renewal", f"{bound}@odata.bind": f"/opportunities({deal})"},
            headers={"Prefer": "return=representation"},
        )
        assert created.status_code == 201, created.text
        activity = created.json()["activityid"]
        prefer = {"Prefer": 'odata.include-annotations="*"'}
        row = (await client.get(f"{entity_set}({activity})", headers=prefer)).json()
        assert row["_regardingobjectid_value"] == deal
        assert row[f"_regardingobjectid_value@{NAVIGATION}"] == bound
        assert row[f"_regardingobjectid_value@{LOOKUP}"] == "opportunity"
        other = "phonecall" if logical != "phonecall" else "email"
        for wrong in ("regardingobjectid_opportunity", f"regardingobjectid_opportunity_{other}"):
            refused = await client.post(
                entity_set, json={"subject": "x", f"{wrong}@odata.bind": f"/opportunities({deal})"}
            )
            assert refused.status_code == 400
            error = refused.json()["error"]
            assert error["code"] == "0x80048d19"
            assert error["message"].startswith(
                f"Error identified in Payload provided by the user for Entity :'{entity_set}'"
            )
            assert (
                f"An undeclared property '{wrong}' which only has property annotations"
                in (error["message"])
            )
    assert len([w for w in dv.dataverse.writes() if w["operation"] == "create"]) == 4
