"""`check` names what is missing; `provision` creates Rapport's columns once, and only them."""

from __future__ import annotations

from typing import Any

import pytest

from crm.dataverse.check import run_check
from crm.dataverse.client import DataverseClient
from crm.dataverse.columns import COLUMNS
from crm.dataverse.provision import apply, plan
from emulator.dataverse.testing import LoopbackDataverse, standard_environment
from tests.crm.dataverse.conftest import PREFIX


async def test_check_before_provision_asks_for_it(client: DataverseClient) -> None:
    report = await run_check(client, PREFIX)
    assert not report.ready
    missing = {probe.name: probe for probe in report.missing}
    assert set(missing) == {
        f"Rapport's columns on {t}" for t in ("contact", "lead", "opportunity", "account")
    }
    assert all("rapport dataverse provision" in probe.fix for probe in missing.values())


async def test_provision_then_check_is_ready(client: DataverseClient) -> None:
    await apply(client, await plan(client, PREFIX), None)
    report = await run_check(client, PREFIX)
    assert report.ready, report.as_dict()["missing"]
    assert report.user_id == "7a1d0000-0000-4000-8000-00000000a5e2"


@pytest.mark.parametrize(
    "environment",
    [
        standard_environment(
            privileges={"*": ["read", "write"], "contact": ["read"], "task": [], "customize": True}
        )
    ],
)
async def test_check_names_each_missing_privilege(client: DataverseClient) -> None:
    await apply(client, await plan(client, PREFIX), None)
    report = await run_check(client, PREFIX)
    assert not report.ready
    details = {probe.name: probe.detail for probe in report.missing}
    assert details == {
        "read tasks": "missing prvReadTask",
        "write Rapport's columns on contact": "missing prvWriteContact",
    }
    assert all("security role" in probe.fix for probe in report.missing)


async def test_provision_dry_run_plan_is_exact_and_creates_nothing(
    client: DataverseClient, dv: LoopbackDataverse
) -> None:
    planned = await plan(client, PREFIX)
    shown = [(c.table, c.schema_name, c.attribute_type, c.action) for c in planned.columns]
    expected = [
        (table, f"rapport_{column.name}", column.attribute_type, "create")
        for table in ("contact", "lead", "opportunity", "account")
        for column in COLUMNS
    ]
    assert shown == expected
    assert len((await plan(client, PREFIX)).of("create")) == 24  # still nothing created


async def test_provision_is_idempotent_and_never_touches_a_foreign_column(
    client: DataverseClient, dv: LoopbackDataverse
) -> None:
    foreign: dict[str, Any] = {
        "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
        "SchemaName": "rapport_HealthScore",
        "DisplayName": {"LocalizedLabels": [{"Label": "someone else's", "LanguageCode": 1033}]},
        "MaxLength": 10,
    }
    await client.send("POST", "EntityDefinitions(LogicalName='lead')/Attributes", body=foreign)
    first = await plan(client, PREFIX)
    conflict = first.of("conflict")
    assert [(c.table, c.schema_name, c.found_type) for c in conflict] == [
        ("lead", "rapport_HealthScore", "String")
    ]
    created = await apply(client, first, "RapportSolution")
    assert len(created) == 23 and "lead.rapport_HealthScore" not in created
    second = await plan(client, PREFIX)
    assert second.of("create") == [] and len(second.of("keep")) == 23
    assert await apply(client, second, None) == []
    requests = dv.dataverse.stats()["requests"]
    assert requests > 0
