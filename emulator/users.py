"""`/organization`, `/users`, `/users/{id|userPrincipalName}`."""

from __future__ import annotations

import re
from typing import Any

from emulator import permissions
from emulator.errors import GraphError
from emulator.fixture import UserSpec
from emulator.http import GraphResponse, json_response
from emulator.paging import page_of, parse_select, project
from emulator.routing import Context, Router

# Graph's default user projection; preferredDataLocation is only returned when selected.
DEFAULT_USER_FIELDS = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
USER_FIELDS = frozenset(
    {
        *DEFAULT_USER_FIELDS,
        "preferredDataLocation",
        "accountEnabled",
        "department",
        "companyName",
        "usageLocation",
        "otherMails",
        "proxyAddresses",
        "createdDateTime",
        "userType",
        "mailNickname",
        "country",
        "city",
        "employeeId",
        "onPremisesSyncEnabled",
    }
)
_CLAUSE = re.compile(r"^\s*(mail|userPrincipalName|id)\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)


def _user_resource(user: UserSpec) -> dict[str, Any]:
    resource = {"businessPhones": [], **user.properties}
    for name in DEFAULT_USER_FIELDS:
        resource.setdefault(name, None)
    return resource


def _filter(users: list[UserSpec], expression: str | None) -> list[UserSpec]:
    if not expression:
        return users
    wanted: list[tuple[str, str]] = []
    for clause in re.split(r"\s+or\s+", expression, flags=re.IGNORECASE):
        found = _CLAUSE.match(clause)
        if found is None:
            raise GraphError(400, "Request_UnsupportedQuery", "Unsupported Query.")
        wanted.append((found.group(1).lower(), found.group(2).replace("''", "'").lower()))
    keys = {"mail": "mail", "userprincipalname": "userPrincipalName", "id": "id"}
    return [
        u
        for u in users
        if any(str(u.properties.get(keys[field]) or "").lower() == value for field, value in wanted)
    ]


async def list_users(ctx: Context) -> GraphResponse:
    permissions.require_users(ctx.claims.roles)
    fields = parse_select(ctx.request.query, USER_FIELDS, "microsoft.graph.user")
    matching = _filter(ctx.state.users, ctx.request.query.get("$filter"))
    resources = [project(_user_resource(u), fields, DEFAULT_USER_FIELDS) for u in matching]
    return json_response(page_of(ctx.request, resources, 100, 999, "users"))


async def get_user(ctx: Context) -> GraphResponse:
    permissions.require_users(ctx.claims.roles)
    fields = parse_select(ctx.request.query, USER_FIELDS, "microsoft.graph.user")
    user = ctx.state.user(ctx.params["user"])
    body = project(_user_resource(user), fields, DEFAULT_USER_FIELDS)
    return json_response(
        {"@odata.context": f"{ctx.request.base_url}/$metadata#users/$entity", **body}
    )


async def list_organization(ctx: Context) -> GraphResponse:
    permissions.require_organization(ctx.claims.roles)
    tenant = ctx.state.tenant
    domains = [
        {
            "capabilities": "Email, OfficeCommunicationsOnline",
            "isDefault": i == 0,
            "isInitial": d.endswith(".onmicrosoft.com"),
            "name": d,
            "type": "Managed",
        }
        for i, d in enumerate(tenant.verified_domains)
    ]
    organization = {
        "id": tenant.id,
        "displayName": tenant.display_name,
        "countryLetterCode": tenant.country_letter_code,
        "preferredLanguage": "en",
        "tenantType": "AAD",
        "verifiedDomains": domains,
        "businessPhones": [],
        "technicalNotificationMails": [],
        "assignedPlans": [],
        "provisionedPlans": [],
    }
    return json_response(
        {
            "@odata.context": f"{ctx.request.base_url}/$metadata#organization",
            "value": [organization],
        }
    )


async def me(ctx: Context) -> GraphResponse:
    raise GraphError(
        400, "BadRequest", "/me request is only valid with delegated authentication flow."
    )


def register(router: Router) -> None:
    router.add("GET", "/organization", "organization", list_organization)
    router.add("GET", "/users", "users", list_users)
    router.add("GET", "{USER}", "users", get_user)
    router.add("GET", "/me(?:/.*)?", "users", me)
