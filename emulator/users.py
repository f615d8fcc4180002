"""`/organization`, `/users`, `/users/{id|userPrincipalName}`, group membership."""

from __future__ import annotations

import re
from typing import Any

from emulator import permissions
from emulator.errors import GraphError
from emulator.fixture import GroupSpec, UserSpec
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
# Listing a group's members needs a group permission; User.Read.All alone is refused.
GROUP_MEMBER_ROLES = frozenset(
    {
        "GroupMember.Read.All",
        "GroupMember.ReadWrite.All",
        "Group.Read.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
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


def _transitive_users(ctx: Context, group: GroupSpec) -> list[UserSpec]:
    """Every user in the group or in a group nested in it, once, in fixture order."""
    groups = {g.id.lower(): g for g in ctx.state.fixture.groups}
    found: dict[str, UserSpec] = {}
    pending, visited = [group], {group.id.lower()}
    while pending:
        for member in pending.pop().members:
            nested = groups.get(member.lower())
            if nested is not None:
                if nested.id.lower() not in visited:
                    visited.add(nested.id.lower())
                    pending.append(nested)
                continue
            user = ctx.state.find_user(member)
            if user is not None:
                found[user.id] = user
    return sorted(found.values(), key=lambda user: user.index)


async def list_group_users(ctx: Context) -> GraphResponse:
    if not ctx.claims.roles & GROUP_MEMBER_ROLES:
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )
    wanted = ctx.params["group"].lower()
    group = next((g for g in ctx.state.fixture.groups if g.id.lower() == wanted), None)
    if group is None:
        raise GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{ctx.params['group']}' does not exist or one of its queried "
            "reference-property objects are not present.",
        )
    fields = parse_select(ctx.request.query, USER_FIELDS, "microsoft.graph.user")
    resources = [
        project(_user_resource(u), fields, DEFAULT_USER_FIELDS)
        for u in _transitive_users(ctx, group)
    ]
    return json_response(page_of(ctx.request, resources, 100, 999, "users"))


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
    router.add(
        "GET",
        "/groups/(?P<group>[^/]+)/transitiveMembers/(?:microsoft\\.)?graph\\.user",
        "users",
        list_group_users,
    )
