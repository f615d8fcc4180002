"""Dataverse rows as rows of the contract tables (docs/crm-contract.md, docs/dataverse.md).

One `TableSpec` per entity set: what the pull selects, and a pure function from a Web
API row to the values of a contract row (crm.file_rows validates them, with the rules
`crm import` and the run apply). `source` maps each contract column back to the
Dataverse column it came from, so a refused value is reported in Dataverse's words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, NamedTuple

from crm.file_rows import (
    AccountRow,
    ActivityRow,
    ContactRow,
    FileRow,
    LeadRow,
    OpportunityRow,
    SystemUserRow,
)
from storage.crm_tables import REGARDING_TYPE_VALUES

LOOKUP = "@Microsoft.Dynamics.CRM.lookuplogicalname"
STAKEHOLDER_CATEGORY = 1000  # connectionrole.category: Stakeholder
LEAD_STATUS = {0: "open", 1: "qualified", 2: "disqualified"}
OPPORTUNITY_STATUS = {0: "open", 1: "won", 2: "lost"}
# statecode of every activity: 0 Open, 1 Completed, 2 Canceled; appointments also 3 Scheduled
ACTIVITY_STATUS = {0: "open", 1: "completed", 2: "cancelled", 3: "open"}
# activityparty.participationtypemask -> our role; the rest (regarding, owner, resource,
# customer, ...) do not take part in the conversation and are not kept.
PARTY_ROLES = {1: "from", 2: "to", 3: "cc", 4: "bcc", 5: "required", 6: "optional", 7: "organizer"}
PARTY_TYPES = {"systemuser": "system_user", "contact": "contact", "lead": "lead"}

Row = dict[str, Any]


@cache
def _lookup_keys(name: str) -> tuple[str, str]:
    return f"_{name}_value", f"_{name}_value{LOOKUP}"


def lookup(row: Row, name: str) -> tuple[str | None, str | None]:
    """(id, logical name of the table it points to) of the lookup column `name`."""
    value_key, table_key = _lookup_keys(name)
    value = row.get(value_key)
    return (str(value) if value else None), row.get(table_key)


def _coded(table: dict[int, str], value: Any) -> Any:
    """The vocabulary value of a code; an unknown code stays as it is, to be refused."""
    return table.get(value, value) if isinstance(value, int) else value


def _day(value: Any) -> Any:
    return value[:10] if isinstance(value, str) else value


def _full_name(row: Row) -> Any:
    name = row.get("fullname")
    if name:
        return name
    parts = [row.get("firstname"), row.get("lastname")]
    return " ".join(part for part in parts if part) or None


@dataclass(frozen=True)
class TableSpec:
    entity_set: str
    primary_id: str
    select: tuple[str, ...]
    model: type[FileRow] | None  # None: handled on its own (connections, parties)
    to_contract: Callable[[Row], Row | None] = lambda row: None  # None: not a contract row
    source: dict[str, str] = field(default_factory=dict)  # contract column -> Dataverse's


def _system_user(row: Row) -> Row | None:
    if row.get("applicationid"):
        return None  # an application user (Rapport's own among them) is nobody's colleague
    return {
        "id": row["systemuserid"],
        "email": row.get("internalemailaddress"),
        "full_name": _full_name(row),
        "disabled": bool(row.get("isdisabled")),
    }


def _account(row: Row) -> Row:
    return {
        "id": row["accountid"],
        "name": row.get("name"),
        "primary_contact_id": lookup(row, "primarycontactid")[0],
        "owner_id": lookup(row, "ownerid")[0],
        "created_at": row.get("createdon"),
    }


def _contact(row: Row) -> Row:
    parent, parent_type = lookup(row, "parentcustomerid")
    return {
        "id": row["contactid"],
        "full_name": _full_name(row),
        "email": row.get("emailaddress1"),
        "email2": row.get("emailaddress2"),
        "email3": row.get("emailaddress3"),
        "account_id": parent if parent_type in (None, "account") else None,
        "created_at": row.get("createdon"),
    }


def _lead(row: Row) -> Row:
    return {
        "id": row["leadid"],
        "full_name": _full_name(row),
        "email": row.get("emailaddress1"),
        "company_name": row.get("companyname"),
        "status": _coded(LEAD_STATUS, row.get("statecode", 0)),
        "owner_id": lookup(row, "ownerid")[0],
        "created_at": row.get("createdon"),
    }


def _opportunity(row: Row) -> Row:
    customer, customer_type = lookup(row, "customerid")
    account = lookup(row, "parentaccountid")[0] or (
        customer if customer_type == "account" else None
    )
    contact = lookup(row, "parentcontactid")[0] or (
        customer if customer_type == "contact" else None
    )
    return {
        "id": row["opportunityid"],
        "name": row.get("name"),
        "account_id": account,
        "owner_id": lookup(row, "ownerid")[0],
        "customer_contact_id": contact,
        "status": _coded(OPPORTUNITY_STATUS, row.get("statecode", 0)),
        "estimated_revenue": row.get("estimatedvalue"),
        "estimated_close_date": _day(row.get("estimatedclosedate")),
        "actual_close_date": _day(row.get("actualclosedate")),
        "created_at": row.get("createdon"),
    }


def _activity(kind: str, directed: bool) -> Callable[[Row], Row]:
    owner_key = _lookup_keys("ownerid")[0]
    regarding_key, regarding_type_key = _lookup_keys("regardingobjectid")
    emailed = kind == "email"

    def to_contract(row: Row) -> Row:
        # Called for every activity of every pull: lookups inlined.
        get = row.get
        end = get("actualend") or get("scheduledend")
        regarding = get(regarding_key)
        regarding_type = get(regarding_type_key) if regarding else None
        known = regarding_type in REGARDING_TYPE_VALUES
        owner = get(owner_key)
        direction = get("directioncode") if directed else None
        return {
            "id": row["activityid"],
            "kind": kind,
            "owner_id": str(owner) if owner else None,
            "direction": None if direction is None else "outgoing" if direction else "incoming",
            "status": _coded(ACTIVITY_STATUS, get("statecode", 0)),
            # a sent email has only its end (the time it went)
            "start_at": get("actualstart") or get("scheduledstart") or end,
            "end_at": end,
            "regarding_type": regarding_type if known else None,
            "regarding_id": str(regarding) if known else None,
            "internet_message_id": get("messageid") if emailed else None,
            "modified_at": get("modifiedon"),
        }

    return to_contract


ACTIVITY_SELECT = (
    "activityid",
    "statecode",
    "statuscode",
    "actualstart",
    "actualend",
    "scheduledstart",
    "scheduledend",
    "_regardingobjectid_value",
    "_ownerid_value",
    "modifiedon",
)
ACTIVITY_SOURCE = {
    "status": "statecode",
    "start_at": "actualstart",
    "end_at": "actualend",
    "regarding_id": "regardingobjectid",
    "direction": "directioncode",
    "internet_message_id": "messageid",
    "modified_at": "modifiedon",
}
RECORD_SOURCE = {
    "full_name": "fullname",
    "email": "emailaddress1",
    "email2": "emailaddress2",
    "email3": "emailaddress3",
    "created_at": "createdon",
    "status": "statecode",
    "owner_id": "ownerid",
}

SYSTEM_USERS = TableSpec(
    "systemusers",
    "systemuserid",
    (
        "systemuserid",
        "fullname",
        "firstname",
        "lastname",
        "internalemailaddress",
        "isdisabled",
        "applicationid",
    ),
    SystemUserRow,
    _system_user,
    {"email": "internalemailaddress", "full_name": "fullname", "disabled": "isdisabled"},
)
ACCOUNTS = TableSpec(
    "accounts",
    "accountid",
    ("accountid", "name", "_primarycontactid_value", "_ownerid_value", "createdon"),
    AccountRow,
    _account,
    {
        "name": "name",
        "primary_contact_id": "primarycontactid",
        "owner_id": "ownerid",
        "created_at": "createdon",
    },
)
CONTACTS = TableSpec(
    "contacts",
    "contactid",
    (
        "contactid",
        "fullname",
        "firstname",
        "lastname",
        "emailaddress1",
        "emailaddress2",
        "emailaddress3",
        "_parentcustomerid_value",
        "createdon",
    ),
    ContactRow,
    _contact,
    {**RECORD_SOURCE, "account_id": "parentcustomerid"},
)
LEADS = TableSpec(
    "leads",
    "leadid",
    (
        "leadid",
        "fullname",
        "firstname",
        "lastname",
        "emailaddress1",
        "companyname",
        "statecode",
        "_ownerid_value",
        "createdon",
    ),
    LeadRow,
    _lead,
    {**RECORD_SOURCE, "company_name": "companyname"},
)
OPPORTUNITIES = TableSpec(
    "opportunities",
    "opportunityid",
    (
        "opportunityid",
        "name",
        "statecode",
        "estimatedvalue",
        "estimatedclosedate",
        "actualclosedate",
        "_parentaccountid_value",
        "_parentcontactid_value",
        "_customerid_value",
        "_ownerid_value",
        "createdon",
    ),
    OpportunityRow,
    _opportunity,
    {
        **RECORD_SOURCE,
        "name": "name",
        "account_id": "parentaccountid",
        "customer_contact_id": "parentcontactid",
        "estimated_revenue": "estimatedvalue",
        "estimated_close_date": "estimatedclosedate",
        "actual_close_date": "actualclosedate",
    },
)
CONNECTIONS = TableSpec(
    "connections",
    "connectionid",
    (
        "connectionid",
        "_record1id_value",
        "_record2id_value",
        "_record1roleid_value",
        "_record2roleid_value",
    ),
    None,
)
EMAILS = TableSpec(
    "emails",
    "activityid",
    (*ACTIVITY_SELECT, "directioncode", "messageid"),
    ActivityRow,
    _activity("email", True),
    ACTIVITY_SOURCE,
)
APPOINTMENTS = TableSpec(
    "appointments",
    "activityid",
    ACTIVITY_SELECT,
    ActivityRow,
    _activity("appointment", False),
    ACTIVITY_SOURCE,
)
PHONE_CALLS = TableSpec(
    "phonecalls",
    "activityid",
    (*ACTIVITY_SELECT, "directioncode"),
    ActivityRow,
    _activity("phone_call", True),
    ACTIVITY_SOURCE,
)
TASKS = TableSpec(
    "tasks", "activityid", ACTIVITY_SELECT, ActivityRow, _activity("task", False), ACTIVITY_SOURCE
)
PARTIES = TableSpec(
    "activityparties",
    "activitypartyid",
    (
        "activitypartyid",
        "_activityid_value",
        "_partyid_value",
        "addressused",
        "participationtypemask",
    ),
    None,
)
# Pull order: a table after the ones its rows name (parties last: they are matched
# against the users, contacts and leads just pulled).
PULLED: tuple[TableSpec, ...] = (
    SYSTEM_USERS,
    ACCOUNTS,
    CONTACTS,
    LEADS,
    OPPORTUNITIES,
    CONNECTIONS,
    EMAILS,
    APPOINTMENTS,
    PHONE_CALLS,
    TASKS,
    PARTIES,
)


@dataclass(frozen=True)
class Stakeholder:
    connection_id: str
    opportunity_id: str
    contact_id: str
    role: str | None


def stakeholder(row: Row, roles: dict[str, tuple[str, int | None]]) -> Stakeholder | None:
    """A connection between a deal and a contact in a Stakeholder-category role, or None."""
    one, one_type = lookup(row, "record1id")
    two, two_type = lookup(row, "record2id")
    if (one_type, two_type) == ("contact", "opportunity"):
        one, two, role_column = two, one, "record1roleid"
    elif (one_type, two_type) == ("opportunity", "contact"):
        role_column = "record2roleid"
    else:
        return None
    role_id = lookup(row, role_column)[0]
    name, category = roles.get(role_id or "", (None, None))
    if one is None or two is None or category != STAKEHOLDER_CATEGORY:
        return None
    return Stakeholder(str(row["connectionid"]), one, two, name)


class Party(NamedTuple):
    party_id: str
    activity_id: str
    role: str
    address: str | None
    party_type: str | None  # our record type, when the party names a user, contact or lead
    party_record: str | None


_PARTY_ACTIVITY, _PARTY_RECORD, _PARTY_TABLE = "_activityid_value", *_lookup_keys("partyid")


def party(row: Row) -> Party | None:
    """An activity party that takes part in the conversation, before matching; or None.

    Called for every party of every pull (two or more per activity): lookups inlined."""
    role = PARTY_ROLES.get(row.get("participationtypemask"))  # type: ignore[arg-type]
    activity = row.get(_PARTY_ACTIVITY)
    if role is None or not activity:
        return None
    record_table = row.get(_PARTY_TABLE)
    party_type = PARTY_TYPES.get(record_table) if record_table else None
    record = row.get(_PARTY_RECORD) if party_type else None
    address = row.get("addressused")
    if isinstance(address, str):
        address = address.strip() or None
    else:
        address = None
    return Party(
        str(row["activitypartyid"]),
        str(activity),
        role,
        address,
        party_type,
        str(record) if record else None,
    )
