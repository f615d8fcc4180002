"""`rapport emulator generate --dataverse`: a Dataverse environment holding the same people
and companies as a generated Graph tenant, with the sales records around them.

System users are the tenant's users (same ids and addresses); accounts and contacts are
the CRM seed's (the customers the synthetic mailboxes write to, about one in ten left
out as in a real CRM). Around them, deterministically from the seed: leads, deals with
stakeholders (connections whose role has the Stakeholder category), and logged
activities (emails, meetings, calls, tasks) with their activity parties.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from emulator.dataverse.rows import LOOKUP_LOGICAL_NAME
from emulator.dataverse.schema import STAKEHOLDER_CATEGORY
from emulator.names import COMPANY_WORDS_B, FIRST_NAMES, LAST_NAMES
from emulator.synthetic import rng_for

LOOKUP = f"@{LOOKUP_LOGICAL_NAME}"
STAKEHOLDER_ROLES = ("Decision Maker", "Economic Buyer", "Champion", "Influencer")
# participationtypemask values
SENDER, TO, REQUIRED, ORGANIZER = 1, 2, 5, 7


def _uuid(seed: int, *parts: object) -> str:
    return str(uuid.UUID(int=rng_for(seed, "dataverse", *parts).getrandbits(128), version=4))


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _lookup(name: str, target_id: str, table: str) -> dict[str, str]:
    return {f"_{name}_value": target_id, f"_{name}_value{LOOKUP}": table}


def _party(
    seed: int, activity: tuple[str, str], n: int, who: tuple[str, str, str], mask: int
) -> dict[str, Any]:
    activity_id, kind = activity
    party_id, table, address = who
    return {
        "activitypartyid": _uuid(seed, "party", activity_id, n),
        **_lookup("activityid", activity_id, kind),
        **_lookup("partyid", party_id, table),
        "addressused": address,
        "participationtypemask": mask,
    }


class _Builder:
    def __init__(self, fixture: dict[str, Any], crm: dict[str, Any], seed: int) -> None:
        self.seed = seed
        generated = fixture.get("generated", {})
        self.end = dt.datetime.fromisoformat(str(generated.get("end", "2025-01-31"))).replace(
            tzinfo=dt.UTC
        )
        self.days = int(generated.get("days", 365))
        self.users = crm["systemUsers"]
        self.accounts = crm["accounts"]
        self.contacts_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for person in crm["contacts"]:
            self.contacts_of[person["accountId"]].append(person)
        self.tables: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.roles = [_uuid(seed, "role", name) for name in STAKEHOLDER_ROLES]

    def owner(self, *parts: object) -> dict[str, Any]:
        user: dict[str, Any] = self.users[
            rng_for(self.seed, "owner", *parts).randrange(len(self.users))
        ]
        return user

    def build(self) -> dict[str, list[dict[str, Any]]]:
        self.tables["systemusers"] = [
            {
                "systemuserid": u["id"],
                "fullname": u["name"],
                "internalemailaddress": u["email"],
                "isdisabled": bool(u.get("disabled", False)),
            }
            for u in self.users
        ]
        self.tables["connectionroles"] = [
            {"connectionroleid": rid, "name": name, "category": STAKEHOLDER_CATEGORY}
            for rid, name in zip(self.roles, STAKEHOLDER_ROLES, strict=True)
        ] + [
            {
                "connectionroleid": _uuid(self.seed, "role", "former"),
                "name": "Former Employee",
                "category": 1,
            }
        ]
        for index, account in enumerate(self.accounts):
            self.account(index, account)
        for n in range(max(1, len(self.accounts) // 5)):
            self.lead(n)
        return dict(self.tables)

    def account(self, index: int, account: dict[str, Any]) -> None:
        owner = self.owner("account", index)
        people = self.contacts_of.get(account["id"], [])
        self.tables["accounts"].append(
            {
                "accountid": account["id"],
                "name": account["name"],
                "websiteurl": f"https://{account['domains'][0]}"
                if account.get("domains")
                else None,
                **_lookup("ownerid", owner["id"], "systemuser"),
                **(_lookup("primarycontactid", people[0]["id"], "contact") if people else {}),
            }
        )
        for person in people:
            emails = person.get("emails", [])
            self.tables["contacts"].append(
                {
                    "contactid": person["id"],
                    "firstname": person.get("firstName"),
                    "lastname": person.get("lastName"),
                    "fullname": person.get("fullName"),
                    **{f"emailaddress{i + 1}": e for i, e in enumerate(emails[:3])},
                    **_lookup("parentcustomerid", account["id"], "account"),
                    **_lookup("ownerid", owner["id"], "systemuser"),
                }
            )
        rng = rng_for(self.seed, "deals", index)
        for deal in range(1 + rng.randrange(2)):
            self.opportunity(index, deal, account, owner, people)

    def opportunity(
        self,
        index: int,
        deal: int,
        account: dict[str, Any],
        owner: dict[str, Any],
        people: list[dict[str, Any]],
    ) -> None:
        rng = rng_for(self.seed, "deal", index, deal)
        deal_id = _uuid(self.seed, "opportunity", index, deal)
        state = rng.choices((0, 1, 2), (70, 18, 12))[0]
        close = self.end + dt.timedelta(days=rng.randrange(-120, 120))
        row: dict[str, Any] = {
            "opportunityid": deal_id,
            "name": f"{account['name']} {rng.choice(COMPANY_WORDS_B).title()} deal",
            "statecode": state,
            "statuscode": {0: 1, 1: 3, 2: 4}[state],
            "estimatedvalue": float(rng.randrange(5, 500) * 1000),
            "estimatedclosedate": _iso(close),
            "actualclosedate": _iso(min(close, self.end)) if state else None,
            **_lookup("parentaccountid", account["id"], "account"),
            **_lookup("customerid", account["id"], "account"),
            **_lookup("ownerid", owner["id"], "systemuser"),
        }
        if people:
            row.update(_lookup("parentcontactid", people[0]["id"], "contact"))
        self.tables["opportunities"].append(row)
        for n, person in enumerate(people[: 1 + rng.randrange(3)]):
            self.tables["connections"].append(
                {
                    "connectionid": _uuid(self.seed, "connection", deal_id, n),
                    **_lookup("record1id", deal_id, "opportunity"),
                    **_lookup("record2id", person["id"], "contact"),
                    **_lookup(
                        "record2roleid",
                        self.roles[rng.randrange(len(self.roles))],
                        "connectionrole",
                    ),
                }
            )
        for n in range(2 + rng.randrange(5)):
            self.activity(deal_id, n, owner, people)

    def activity(
        self, deal_id: str, n: int, owner: dict[str, Any], people: list[dict[str, Any]]
    ) -> None:
        rng = rng_for(self.seed, "activity", deal_id, n)
        kind = rng.choices(("email", "appointment", "phonecall", "task"), (50, 20, 20, 10))[0]
        activity_id = _uuid(self.seed, kind, deal_id, n)
        at = self.end - dt.timedelta(seconds=rng.randrange(self.days * 86400))
        outgoing = rng.random() < 0.55
        row: dict[str, Any] = {
            "activityid": activity_id,
            "subject": "RAPPORT-CANARY logged activity",
            "statecode": 1 if kind != "task" else rng.choice((0, 1, 2)),
            "actualstart": _iso(at),
            "actualend": _iso(at + dt.timedelta(minutes=30)),
            **_lookup("regardingobjectid", deal_id, "opportunity"),
            **_lookup("ownerid", owner["id"], "systemuser"),
        }
        if kind in ("email", "phonecall"):
            row["directioncode"] = outgoing
        if kind == "email":
            row["messageid"] = f"<{activity_id}@{owner['email'].split('@')[1]}>"
        if kind == "appointment":
            row.update(
                {
                    "statecode": 1,
                    "scheduledstart": row["actualstart"],
                    "scheduledend": row["actualend"],
                }
            )
        self.tables[f"{kind}s"].append(row)
        seller = (owner["id"], "systemuser", owner["email"])
        customers = [(p["id"], "contact", (p.get("emails") or [""])[0]) for p in people[:2]]
        if not customers:
            return
        if kind == "appointment":
            masks = [(seller, ORGANIZER)] + [(c, REQUIRED) for c in customers]
        elif outgoing:
            masks = [(seller, SENDER)] + [(c, TO) for c in customers]
        else:
            masks = [(customers[0], SENDER), (seller, TO)]
        for k, (who, mask) in enumerate(masks):
            self.tables["activityparties"].append(
                _party(self.seed, (activity_id, kind), k, who, mask)
            )

    def lead(self, n: int) -> None:
        rng = rng_for(self.seed, "lead", n)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = f"{rng.choice(COMPANY_WORDS_B).title()} Prospects {n}"
        state = rng.choices((0, 1, 2), (70, 20, 10))[0]
        self.tables["leads"].append(
            {
                "leadid": _uuid(self.seed, "lead", n),
                "firstname": first,
                "lastname": last,
                "fullname": f"{first} {last}",
                "emailaddress1": f"{first}.{last}@prospects{n}.example".lower(),
                "companyname": company,
                "statecode": state,
                "statuscode": {0: 1, 1: 3, 2: 4}[state],
                **_lookup("ownerid", self.owner("lead", n)["id"], "systemuser"),
            }
        )


def dataverse_environment(
    fixture: dict[str, Any], crm: dict[str, Any], seed: int
) -> dict[str, Any]:
    """The Dataverse fixture for a generated tenant (`fixture`) and its CRM seed."""
    slug = str(fixture["tenant"]["verifiedDomains"][0]).split(".")[0]
    app = fixture["apps"][0]
    return {
        "environment": {
            "organizationId": _uuid(seed, "organization"),
            "businessUnitId": _uuid(seed, "businessunit"),
            "urlName": slug,
        },
        "applicationUsers": [
            {
                "applicationId": app["clientId"],
                "systemuserid": _uuid(seed, "application-user"),
                "fullname": f"# {app.get('displayName', 'Rapport')}",
                "privileges": {"*": ["read", "write"], "customize": True},
            }
        ],
        "tables": _Builder(fixture, crm, seed).build(),
    }


def dataverse_path_for(fixture_path: Path) -> Path:
    """`tenant.json` -> `tenant.dataverse.json`."""
    return fixture_path.with_name(fixture_path.stem + ".dataverse.json")
