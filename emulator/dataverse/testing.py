"""Test helpers: start a loopback Dataverse (with the Graph emulator whose token service
signs its tokens), get tokens, and a small standard environment.

    async with running_dataverse(standard_environment(), workdir=tmp_path) as dv:
        token = await fetch_dataverse_token(dv)
        async with api_client(dv, token) as client:
            reply = await client.get("WhoAmI")
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from emulator.app import Emulator
from emulator.dataverse.app import DataverseEmulator
from emulator.dataverse.environment import Environment, load_environment, load_environment_dict
from emulator.dataverse.rows import LOOKUP_LOGICAL_NAME
from emulator.fixture import Fixture
from emulator.testing import (
    CLIENT_ID,
    CLIENT_SECRET,
    FixtureBuilder,
    as_fixture,
    as_loaded,
    fetch_token,
)

APP_USER_ID = "7a1d0000-0000-4000-8000-00000000a5e2"
LOOKUP = f"@{LOOKUP_LOGICAL_NAME}"


def rid(*parts: object) -> str:
    """A stable row id for test data."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "dataverse/" + "/".join(map(str, parts))))


@dataclass
class LoopbackDataverse:
    graph: Emulator  # token service (authority) and, if wanted, Graph
    dataverse: DataverseEmulator
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET

    @property
    def url(self) -> str:
        return self.dataverse.url

    @property
    def api_url(self) -> str:
        return self.dataverse.api_url

    @property
    def authority(self) -> str:
        return self.graph.authority

    @property
    def tenant_id(self) -> str:
        return self.graph.tenant_id

    @property
    def ca_pem_path(self) -> Path:
        return self.graph.ca_pem_path


def as_environment(source: Environment | dict[str, Any] | Path) -> Environment:
    return as_loaded(source, Environment, load_environment, load_environment_dict)


@asynccontextmanager
async def running_dataverse(
    environment: Environment | dict[str, Any] | Path,
    *,
    tenant: Fixture | dict[str, Any] | Path | None = None,
    workdir: Path | None = None,
    **options: Any,
) -> AsyncIterator[LoopbackDataverse]:
    """A Graph emulator (token service) and a Dataverse beside it, for the block."""
    fixture = as_fixture(tenant if tenant is not None else FixtureBuilder.standard().build())
    async with AsyncExitStack() as stack:
        graph = await stack.enter_async_context(Emulator(fixture, workdir=workdir))
        dataverse = DataverseEmulator(
            as_environment(environment), graph.tokens, workdir=workdir, **options
        )
        await stack.enter_async_context(dataverse)
        yield LoopbackDataverse(graph, dataverse)


def ssl_context(loopback: LoopbackDataverse) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(loopback.ca_pem_path))


async def fetch_dataverse_token(
    loopback: LoopbackDataverse,
    *,
    client_id: str | None = None,
    secret: str | None = None,
    scope: str | None = None,
) -> str:
    """An app-only token for the environment (scope `{url}/.default`)."""
    return await fetch_token(
        loopback.graph,
        client_id or loopback.client_id,
        secret or loopback.client_secret,
        scope=scope or loopback.dataverse.scope,
    )


@asynccontextmanager
async def api_client(loopback: LoopbackDataverse, token: str) -> AsyncIterator[httpx.AsyncClient]:
    """httpx pointed at `{url}/api/data/v9.2/` with the bearer token and OData headers."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "OData-MaxVersion": "4.0",
        "OData-Version": "4.0",
    }
    async with httpx.AsyncClient(
        base_url=loopback.api_url + "/", headers=headers, verify=ssl_context(loopback)
    ) as client:
        yield client


def standard_environment(
    *, privileges: dict[str, Any] | None = None, client_id: str = CLIENT_ID
) -> dict[str, Any]:
    """A small sales environment: 2 accounts, 3 contacts, a lead, a deal with a
    stakeholder, and one activity of each kind with its parties."""
    seller = rid("systemuser", "adele")
    fabrikam, alpine = rid("account", "fabrikam"), rid("account", "alpine")
    alex, bea, chen = rid("contact", "alex"), rid("contact", "bea"), rid("contact", "chen")
    deal = rid("opportunity", "fabrikam-renewal")
    stakeholder_role = rid("connectionrole", "decision-maker")
    email, meeting = rid("email", 1), rid("appointment", 1)
    call, task = rid("phonecall", 1), rid("task", 1)

    domains = {fabrikam: "fabrikam.com", alpine: "alpine.example"}

    def contact(cid: str, first: str, last: str, account: str) -> dict[str, Any]:
        return {
            "contactid": cid,
            "firstname": first,
            "lastname": last,
            "fullname": f"{first} {last}",
            "emailaddress1": f"{first.lower()}@{domains[account]}",
            "_parentcustomerid_value": account,
            f"_parentcustomerid_value{LOOKUP}": "account",
            "_ownerid_value": seller,
            "createdon": "2024-04-01T09:00:00Z",
        }

    def party(
        activity: str, kind: str, n: int, target: str, table: str, mask: int, address: str
    ) -> dict[str, Any]:
        return {
            "activitypartyid": rid("party", activity, n),
            "_activityid_value": activity,
            f"_activityid_value{LOOKUP}": kind,
            "_partyid_value": target,
            f"_partyid_value{LOOKUP}": table,
            "addressused": address,
            "participationtypemask": mask,
        }

    activity_base = {
        "subject": "RAPPORT-CANARY subject",
        "_regardingobjectid_value": deal,
        f"_regardingobjectid_value{LOOKUP}": "opportunity",
        "_ownerid_value": seller,
    }
    return {
        "environment": {"urlName": "contoso"},
        "applicationUsers": [
            {
                "applicationId": client_id,
                "systemuserid": APP_USER_ID,
                "fullname": "# Rapport",
                "privileges": privileges or {"*": ["read", "write"], "customize": True},
            }
        ],
        "tables": {
            "systemusers": [
                {
                    "systemuserid": seller,
                    "fullname": "Adele Vance",
                    "internalemailaddress": "adele@contoso.com",
                    "isdisabled": False,
                }
            ],
            "accounts": [
                {"accountid": fabrikam, "name": "Fabrikam", "_ownerid_value": seller},
                {"accountid": alpine, "name": "Alpine Analytics", "_ownerid_value": seller},
            ],
            "contacts": [
                contact(alex, "Alex", "Wilber", fabrikam),
                contact(bea, "Bea", "Lind", fabrikam),
                contact(chen, "Chen", "Wu", alpine),
            ],
            "leads": [
                {
                    "leadid": rid("lead", 1),
                    "fullname": "Dana Ito",
                    "emailaddress1": "dana@northwind.example",
                    "companyname": "Northwind",
                    "statecode": 0,
                    "statuscode": 1,
                }
            ],
            "opportunities": [
                {
                    "opportunityid": deal,
                    "name": "Fabrikam renewal",
                    "statecode": 0,
                    "estimatedvalue": 120000.0,
                    "estimatedclosedate": "2024-09-30T00:00:00Z",
                    "_parentaccountid_value": fabrikam,
                    "_customerid_value": fabrikam,
                    f"_customerid_value{LOOKUP}": "account",
                    "_ownerid_value": seller,
                }
            ],
            "connectionroles": [
                {"connectionroleid": stakeholder_role, "name": "Decision Maker", "category": 1000}
            ],
            "connections": [
                {
                    "connectionid": rid("connection", 1),
                    "_record1id_value": deal,
                    f"_record1id_value{LOOKUP}": "opportunity",
                    "_record2id_value": alex,
                    f"_record2id_value{LOOKUP}": "contact",
                    "_record2roleid_value": stakeholder_role,
                }
            ],
            "emails": [
                {
                    **activity_base,
                    "activityid": email,
                    "statecode": 1,
                    "directioncode": True,
                    "messageid": "<out-1@contoso.com>",
                    "actualend": "2024-05-06T09:00:00Z",
                }
            ],
            "appointments": [
                {
                    **activity_base,
                    "activityid": meeting,
                    "statecode": 3,
                    "scheduledstart": "2024-05-07T09:00:00Z",
                    "scheduledend": "2024-05-07T09:30:00Z",
                }
            ],
            "phonecalls": [
                {**activity_base, "activityid": call, "statecode": 1, "directioncode": False}
            ],
            "tasks": [{**activity_base, "activityid": task, "statecode": 0}],
            "activityparties": [
                party(email, "email", 1, seller, "systemuser", 1, "adele@contoso.com"),
                party(email, "email", 2, alex, "contact", 2, "alex@fabrikam.com"),
                party(meeting, "appointment", 1, seller, "systemuser", 7, "adele@contoso.com"),
                party(meeting, "appointment", 2, bea, "contact", 5, "bea@fabrikam.com"),
                party(call, "phonecall", 1, alex, "contact", 1, "alex@fabrikam.com"),
                party(call, "phonecall", 2, seller, "systemuser", 2, "adele@contoso.com"),
            ],
        },
    }
