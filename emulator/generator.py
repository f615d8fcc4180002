"""`rapport emulator generate`: a realistic synthetic tenant fixture plus its CRM seed.

The fixture lists the tenant, one app registration and the users; messages and events
are synthesised on demand from the `generated` section (see synthetic.py), so a
10,000-user, 10M-message tenant is a few megabytes of JSON. The CRM seed holds the
customer accounts and contacts those mailboxes talk to, and the tenant's users as
system users; about one contact in ten is deliberately left out of the CRM, as in
real CRMs, so unmatched addresses occur.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from emulator.dataverse.generator import dataverse_environment, dataverse_path_for
from emulator.names import DATA_LOCATIONS, FIRST_NAMES, LAST_NAMES, TEAMS, TITLES
from emulator.synthetic import account, contact, contacts_in, rng_for

METADATA_ROLES = ["Mail.ReadBasic.All", "Calendars.ReadBasic.All", "User.Read.All"]


def _uuid(seed: int, *parts: object) -> str:
    return str(uuid.UUID(int=rng_for(seed, "uuid", *parts).getrandbits(128), version=4))


def _users(seed: int, count: int, domain: str) -> list[dict[str, Any]]:
    rng = rng_for(seed, "users")
    codes = [code for code, _ in DATA_LOCATIONS]
    weights = [weight for _, weight in DATA_LOCATIONS]
    users = []
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        upn = f"{first}.{last}{i}@{domain}".lower()
        users.append(
            {
                "id": _uuid(seed, "user", i),
                "userPrincipalName": upn,
                "mail": upn,
                "displayName": f"{first} {last}",
                "givenName": first,
                "surname": last,
                "jobTitle": rng.choice(TITLES),
                "department": rng.choice(TEAMS),
                "preferredDataLocation": rng.choices(codes, weights)[0],
            }
        )
    return users


def generate_tenant(
    *,
    users: int,
    messages_per_user: int,
    seed: int,
    events_per_user: int = 40,
    accounts: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (fixture, crm_seed) as JSON-ready dicts."""
    slug = f"contoso{seed}"
    domain = f"{slug}.com"
    account_count = accounts if accounts is not None else max(10, users * 3)
    fixture = {
        "tenant": {
            "id": _uuid(seed, "tenant"),
            "displayName": f"Contoso {seed}",
            "verifiedDomains": [domain, f"{slug}.onmicrosoft.com"],
            "defaultDataLocation": "EUR",
            "countryLetterCode": "DE",
        },
        "apps": [
            {
                "clientId": _uuid(seed, "app"),
                "displayName": "Rapport",
                "secrets": [f"emulator-secret-{seed}"],
                "roles": METADATA_ROLES,
            }
        ],
        "users": _users(seed, users, domain),
        "generated": {
            "seed": seed,
            "messagesPerUser": messages_per_user,
            "eventsPerUser": events_per_user,
            "accounts": account_count,
            "end": "2025-01-31",
            "days": 365,
        },
    }
    return fixture, crm_seed(fixture, seed, account_count)


def crm_seed(fixture: dict[str, Any], seed: int, account_count: int) -> dict[str, Any]:
    accounts, contacts = [], []
    for a in range(account_count):
        info = account(seed, a)
        account_id = _uuid(seed, "account", a)
        accounts.append({"id": account_id, "name": info["name"], "domains": [info["domain"]]})
        rng = rng_for(seed, "crm-gaps", a)
        for n in range(contacts_in(seed, a)):
            if rng.random() < 0.1:
                continue  # not every correspondent is in the CRM
            person = contact(seed, a, n)
            contacts.append(
                {
                    "id": _uuid(seed, "contact", a, n),
                    "firstName": person["firstName"],
                    "lastName": person["lastName"],
                    "fullName": f"{person['firstName']} {person['lastName']}",
                    "emails": [person["email"]],
                    "accountId": account_id,
                }
            )
    system_users = [
        {
            "id": u["id"],
            "email": u["mail"],
            "name": u["displayName"],
            "team": u["department"],
            "disabled": False,
        }
        for u in fixture["users"]
    ]
    return {"accounts": accounts, "contacts": contacts, "systemUsers": system_users}


def crm_import_document(crm: dict[str, Any]) -> dict[str, Any]:
    """The CRM seed in the format `rapport crm import` reads (docs/crm-contract.md,
    "Import file format"): one list of rows per contract table, columns by name."""
    users = [
        {
            "id": u["id"],
            "email": u["email"],
            "full_name": u["name"],
            "team": u["team"],
            "disabled": u["disabled"],
        }
        for u in crm["systemUsers"]
    ]
    contacts = []
    for c in crm["contacts"]:
        emails = dict(zip(("email", "email2", "email3"), c["emails"], strict=False))
        contacts.append(
            {"id": c["id"], "full_name": c["fullName"], **emails, "account_id": c["accountId"]}
        )
    accounts = [{"id": a["id"], "name": a["name"]} for a in crm["accounts"]]
    return {"system_user": users, "account": accounts, "contact": contacts}


def crm_path_for(fixture_path: Path) -> Path:
    """`tenant.json` -> `tenant.crm.json`."""
    return fixture_path.with_name(fixture_path.stem + ".crm.json")


def write_tenant(
    out: Path, *, seed: int, crm_out: Path | None = None, dataverse: bool = False, **options: Any
) -> dict[str, Path]:
    """Write the fixture (`out`) and its CRM seed; with `crm_out`, the seed as an import file
    there too; with `dataverse`, the same people and companies as a Dataverse fixture.
    The paths written, by kind: fixture, crm, then dataverse and crm_import if asked."""
    fixture, crm = generate_tenant(seed=seed, **options)
    written = {"fixture": out, "crm": crm_path_for(out)}
    out.write_text(json.dumps(fixture, indent=1), encoding="utf-8")
    written["crm"].write_text(json.dumps(crm, indent=1), encoding="utf-8")
    if dataverse:
        written["dataverse"] = dataverse_path_for(out)
        environment = dataverse_environment(fixture, crm, seed)
        written["dataverse"].write_text(json.dumps(environment, indent=1), encoding="utf-8")
    if crm_out is not None:
        written["crm_import"] = crm_out
        crm_out.write_text(json.dumps(crm_import_document(crm), indent=1), encoding="utf-8")
    return written
