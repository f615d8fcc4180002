"""The emulator's answers have the shape of Microsoft's documented examples
(tests/emulator/dataverse_examples/, sources in NOTE.md there)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from emulator.dataverse.testing import LoopbackDataverse, rid

EXAMPLES = Path(__file__).resolve().parents[1] / "dataverse_examples"


def _example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return loaded


def _keys(row: dict[str, Any]) -> set[str]:
    return set(row)


def _context_form(context: str, api_url: str) -> str:
    return context.replace(api_url, "[Organization URI]/api/data/v9.2")


def _link_form(link: str) -> str:
    return re.sub(r"(\$skiptoken|\$deltatoken)=[^&]*", r"\1=TOKEN", link.split("/api/data/v9.2")[1])


async def test_paging_matches_the_documented_example(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    example = _example("paging.json")
    request, expected = example["request"], example["response"]
    reply = await client.get(request["path"], params=request["query"], headers=request["headers"])
    assert reply.status_code == expected["status"]
    for header, value in expected["headers"].items():
        assert reply.headers[header] == value
    body, documented = reply.json(), expected["body"]
    assert list(body) == list(documented)
    assert _context_form(body["@odata.context"], dv.api_url) == documented["@odata.context"]
    assert [_keys(r) for r in body["value"]] == [_keys(r) for r in documented["value"]]
    assert _link_form(body["@odata.nextLink"]) == _link_form(documented["@odata.nextLink"])


async def test_change_tracking_matches_the_documented_example(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    example = _example("change_tracking.json")
    request = example["request"]
    account = dv.dataverse.add_row("accounts", {"name": "Monte Orton", "telephone1": "555-0000"})
    for name in ("Fabrikam", "Alpine Analytics"):  # leave one row, as the example shows
        gone = next(r for r in (await client.get("accounts")).json()["value"] if r["name"] == name)
        dv.dataverse.delete_row("accounts", gone["accountid"])
    reply = await client.get(request["path"], params=request["query"], headers=request["headers"])
    body, documented = reply.json(), example["response"]["body"]
    assert reply.status_code == 200
    assert set(body) == set(documented)
    assert _context_form(body["@odata.context"], dv.api_url) == documented["@odata.context"]
    assert [_keys(r) for r in body["value"]] == [_keys(r) for r in documented["value"]]
    assert _link_form(body["@odata.deltaLink"]) == _link_form(documented["@odata.deltaLink"])
    token = body["@odata.deltaLink"].split("$deltatoken=")[1]
    assert re.fullmatch(r"\d+!\d\d%2F\d\d%2F\d{4}%20\d\d:\d\d:\d\d", token)

    dv.dataverse.update_row("accounts", account["accountid"], {"telephone1": "555-0001"})
    victim = dv.dataverse.add_row("accounts", {"name": "Short lived"})
    delta_baseline = (await client.get(body["@odata.deltaLink"])).json()["@odata.deltaLink"]
    dv.dataverse.update_row("accounts", account["accountid"], {"telephone1": "555-0002"})
    dv.dataverse.delete_row("accounts", victim["accountid"])
    delta = (await client.get(delta_baseline)).json()
    documented_delta = example["delta"]["body"]
    assert set(delta) == set(documented_delta)
    assert _context_form(delta["@odata.context"], dv.api_url) == documented_delta["@odata.context"]
    assert [_keys(r) for r in delta["value"]] == [_keys(r) for r in documented_delta["value"]]
    deleted = delta["value"][1]
    assert (
        _context_form(deleted["@odata.context"], dv.api_url)
        == (documented_delta["value"][1]["@odata.context"])
    )


async def test_whoami_matches_the_documented_example(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    documented = _example("whoami.json")["response"]["body"]
    body = (await client.get("WhoAmI")).json()
    assert list(body) == list(documented)
    assert _context_form(body["@odata.context"], dv.api_url) == documented["@odata.context"]


async def test_update_multiple_request_of_the_documentation_is_accepted(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    example = _example("update_multiple.json")
    request = example["request"]
    text = json.dumps(request["body"]).replace("{ACCOUNT}", rid("account", "fabrikam"))
    reply = await client.post(request["path"], content=text.encode(), headers=request["headers"])
    assert reply.status_code == example["response"]["status"]
    assert reply.headers["OData-Version"] == "4.0"
    assert dv.dataverse.row("accounts", rid("account", "fabrikam"))["name"] == (
        "sample record (updated)"
    )


async def test_errors_match_the_documented_shape(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    examples = _example("errors.json")
    missing = examples["not_found"]
    reply = await client.get(missing["request"]["path"])
    assert reply.status_code == missing["response"]["status"]
    assert reply.json() == missing["response"]["body"]
    # An undeclared navigation property: the documented code, the entity set and the
    # OData reader's sentence (the page breaks the message into lines and cuts it short;
    # Dataverse puts the help link between the two).
    undeclared = examples["undeclared_navigation"]
    reply = await client.post(undeclared["request"]["path"], json=undeclared["request"]["body"])
    documented = undeclared["response"]
    assert reply.status_code == documented["status"]
    assert reply.json()["error"]["code"] == documented["body"]["error"]["code"]
    head, inner = documented["body"]["error"]["message"].split("  ---->  ")
    message = reply.json()["error"]["message"]
    assert message.startswith(head + ", For more information on this error")
    assert inner.removesuffix(" <truncated for brevity>") in message
    dv.dataverse.set_limits(requests_per_window=1)
    await client.get("WhoAmI")
    throttled = await client.get("WhoAmI")
    documented = examples["throttled"]["response"]
    assert throttled.status_code == documented["status"]
    assert int(throttled.headers["Retry-After"]) > 0
    assert throttled.json()["error"]["code"] == documented["body"]["error"]["code"]
    assert set(throttled.json()["error"]) == set(documented["body"]["error"])
