"""Microsoft's Python SDK (PowerPlatform-Dataverse-Client), unmodified, against the
emulator over HTTPS with an azure-identity credential from the token service.

The SDK is synchronous (requests); the emulator runs on the test's event loop, so each
SDK call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from azure.identity import ClientSecretCredential
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError

from emulator.dataverse.testing import LoopbackDataverse, rid

T = TypeVar("T")


@pytest.fixture
def sdk(dv: LoopbackDataverse, monkeypatch: pytest.MonkeyPatch) -> Iterator[DataverseClient]:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(dv.ca_pem_path))
    credential = ClientSecretCredential(
        dv.tenant_id,
        dv.client_id,
        dv.client_secret,
        authority=dv.authority,
        disable_instance_discovery=True,
    )
    with credential, DataverseClient(dv.url, credential) as client:
        yield client


async def _run(call: Callable[[], T]) -> T:
    return await asyncio.to_thread(call)


async def test_sdk_creates_and_reads_a_record(sdk: DataverseClient, dv: LoopbackDataverse) -> None:
    record_id = await _run(
        lambda: sdk.records.create("contact", {"firstname": "Ines", "fullname": "Ines Sousa"})
    )
    assert dv.dataverse.row("contacts", record_id)["fullname"] == "Ines Sousa"
    got: Any = await _run(lambda: sdk.records.retrieve("contact", record_id, select=["fullname"]))
    assert got["fullname"] == "Ines Sousa"


async def test_sdk_updates_one_and_many_records(
    sdk: DataverseClient, dv: LoopbackDataverse
) -> None:
    alex, bea = rid("contact", "alex"), rid("contact", "bea")
    await _run(lambda: sdk.records.update("contact", alex, {"jobtitle": "CFO"}))
    await _run(lambda: sdk.records.update("contact", [alex, bea], {"jobtitle": "Buyer"}))
    assert [w["operation"] for w in dv.dataverse.writes()] == [
        "update",
        "UpdateMultiple",
        "UpdateMultiple",
    ]
    assert dv.dataverse.row("contacts", bea)["jobtitle"] == "Buyer"


async def test_sdk_pages_through_a_query(sdk: DataverseClient, dv: LoopbackDataverse) -> None:
    for n in range(7):
        dv.dataverse.add_row("leads", {"fullname": f"Lead {n}", "companyname": "Paged"})
    pages = await _run(
        lambda: list(
            sdk.records.list_pages(
                "lead",
                select=["fullname"],
                filter="companyname eq 'Paged'",
                orderby=["fullname desc"],
                page_size=3,
            )
        )
    )
    assert [len(list(p)) for p in pages] == [3, 3, 1]
    assert [r["fullname"] for p in pages for r in p][0] == "Lead 6"


async def test_sdk_sees_the_error_code_of_a_missing_record(sdk: DataverseClient) -> None:
    def update_missing() -> int:
        try:
            sdk.records.update("contact", rid("contact", "ghost"), {"jobtitle": "x"})
        except HttpError as error:  # no traceback kept: its frames hold the response and its socket
            return error.status_code or 0
        return 0

    assert await _run(update_missing) == 404


async def test_sdk_batch_change_sets_commit_or_roll_back(
    sdk: DataverseClient, dv: LoopbackDataverse
) -> None:
    fabrikam = rid("account", "fabrikam")

    def committed() -> bool:
        batch = sdk.batch.new()
        with batch.changeset() as change_set:
            reference = change_set.records.create("contact", {"fullname": "Hana Sato"})
            change_set.records.update(
                "account", fabrikam, {"primarycontactid@odata.bind": reference}
            )
        return batch.execute().has_errors

    assert await _run(committed) is False
    primary = dv.dataverse.row("accounts", fabrikam)["_primarycontactid_value"]
    assert dv.dataverse.row("contacts", primary)["fullname"] == "Hana Sato"

    def rolled_back() -> bool:
        batch = sdk.batch.new()
        with batch.changeset() as change_set:
            change_set.records.create("contact", {"fullname": "Never Stored"})
            change_set.records.update("contact", rid("contact", "ghost"), {"jobtitle": "x"})
        return batch.execute().has_errors

    assert await _run(rolled_back) is True
    names = {w["values"].get("fullname") for w in dv.dataverse.writes() if not w["rolledBack"]}
    assert "Never Stored" not in names
    stored = dv.dataverse.service.store.tables["contacts"].rows.values()
    assert all(row.values.get("fullname") != "Never Stored" for row in stored)


async def test_sdk_adds_columns_that_rows_then_accept(
    sdk: DataverseClient, dv: LoopbackDataverse
) -> None:
    alex = rid("contact", "alex")

    def provision_and_write() -> list[str]:
        info = sdk.tables.get("contact")
        assert info is not None and info.entity_set_name == "contacts"
        added = sdk.tables.add_columns(
            "contact", {"rapport_HealthScore": "int", "rapport_Reason": "string"}
        )
        sdk.records.update("contact", alex, {"rapport_healthscore": 64, "rapport_reason": "ok"})
        return list(added)

    assert await _run(provision_and_write) == ["rapport_HealthScore", "rapport_Reason"]
    assert dv.dataverse.row("contacts", alex)["rapport_healthscore"] == 64
    assert dv.dataverse.writes()[-1]["columns"] == ["rapport_healthscore", "rapport_reason"]
