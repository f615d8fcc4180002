"""The tenant fixture: what the emulator serves, loaded from JSON (format in docs/emulator.md).

Users, folders and explicit messages/events are plain Graph-shaped dicts; a
`generated` section makes mailboxes synthesise their messages on demand
instead of listing them (large tenants).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WELL_KNOWN_FOLDERS: tuple[tuple[str, str], ...] = (
    ("inbox", "Inbox"),
    ("sentitems", "Sent Items"),
    ("drafts", "Drafts"),
    ("deleteditems", "Deleted Items"),
    ("archive", "Archive"),
    ("junkemail", "Junk Email"),
    ("outbox", "Outbox"),
)


class FixtureError(ValueError):
    """A fixture is invalid; the message names the offending field."""


@dataclass
class RegisteredCertificate:
    thumbprint: str  # upper-case hex SHA-1, as the portal shows it
    certificate_pem: str | None = None


@dataclass
class AppRegistration:
    client_id: str
    display_name: str
    secrets: list[str]
    certificates: list[RegisteredCertificate]
    roles: set[str]
    service_principal_id: str
    # Sign-in (emulator/signin.py): the web platform's redirect URIs, and which groups the
    # ID token's `groups` claim carries ("None": no claim, as Entra's manifest default).
    redirect_uris: list[str] = field(default_factory=list)
    group_membership_claims: str = "None"


@dataclass
class FolderSpec:
    id: str
    display_name: str
    well_known_name: str | None
    parent_folder_id: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    children: list[FolderSpec] = field(default_factory=list)


@dataclass
class UserSpec:
    properties: dict[str, Any]  # Graph user resource shape
    has_mailbox: bool
    folders: list[FolderSpec]
    events: list[dict[str, Any]]
    index: int  # position in the fixture; generated mailboxes are keyed by it

    @property
    def id(self) -> str:
        return str(self.properties["id"])


@dataclass(frozen=True)
class GeneratedSpec:
    seed: int
    messages_per_user: int
    events_per_user: int
    end: str  # ISO date the synthetic history ends on; fixed so output is reproducible
    days: int
    accounts: int  # size of the synthetic customer universe (see synthetic.account)


@dataclass
class Tenant:
    id: str
    display_name: str
    verified_domains: list[str]
    default_data_location: str
    country_letter_code: str


@dataclass
class GroupSpec:
    id: str
    display_name: str
    members: list[str]  # user ids or UPNs, or ids of nested groups


@dataclass
class Fixture:
    tenant: Tenant
    apps: list[AppRegistration]
    users: list[UserSpec]
    generated: GeneratedSpec | None
    customer_domains: list[str]
    groups: list[GroupSpec] = field(default_factory=list)


def stable_id(*parts: str, prefix: str = "AAMkA") -> str:
    """An Exchange-looking opaque id that is a pure function of `parts`."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()[:24]
    return prefix + base64.urlsafe_b64encode(digest).decode("ascii")


def _require(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise FixtureError(f"{where}.{key} is required")
    return obj[key]


def _load_tenant(raw: dict[str, Any]) -> Tenant:
    domains = _require(raw, "verifiedDomains", "tenant")
    if not isinstance(domains, list) or not domains:
        raise FixtureError("tenant.verifiedDomains must be a non-empty list")
    return Tenant(
        id=str(_require(raw, "id", "tenant")),
        display_name=str(raw.get("displayName", "Contoso")),
        verified_domains=[str(d) for d in domains],
        default_data_location=str(raw.get("defaultDataLocation", "EUR")),
        country_letter_code=str(raw.get("countryLetterCode", "US")),
    )


def _load_app(raw: dict[str, Any], i: int) -> AppRegistration:
    where = f"apps[{i}]"
    certificates = []
    for j, cert in enumerate(raw.get("certificates", [])):
        if "thumbprint" not in cert and "certificatePem" not in cert:
            raise FixtureError(f"{where}.certificates[{j}] needs thumbprint or certificatePem")
        thumb = cert.get("thumbprint") or _thumbprint_of(cert["certificatePem"])
        certificates.append(RegisteredCertificate(str(thumb).upper(), cert.get("certificatePem")))
    client_id = str(_require(raw, "clientId", where))
    return AppRegistration(
        client_id=client_id,
        display_name=str(raw.get("displayName", "Rapport")),
        secrets=[str(s) for s in raw.get("secrets", [])],
        certificates=certificates,
        roles={str(r) for r in raw.get("roles", [])},
        service_principal_id=str(raw.get("servicePrincipalId", stable_id(client_id, prefix=""))),
        redirect_uris=_redirect_uris(raw.get("redirectUris", []), where),
        group_membership_claims=_group_claims(raw.get("groupMembershipClaims", "None"), where),
    )


GROUP_CLAIM_VALUES = ("None", "SecurityGroup", "All", "ApplicationGroup", "DirectoryRole")


def _redirect_uris(raw: Any, where: str) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(uri, str) for uri in raw):
        raise FixtureError(f"{where}.redirectUris must be a list of URIs")
    for uri in raw:
        loopback = uri.startswith(("http://localhost", "http://127.0.0.1"))
        if not (uri.startswith("https://") or loopback) or "#" in uri:
            raise FixtureError(
                f"{where}.redirectUris: {uri!r} is not allowed; expected an https:// URI "
                "(http:// only for localhost or 127.0.0.1) without a fragment"
            )
    return list(raw)


def _group_claims(raw: Any, where: str) -> str:
    if raw not in GROUP_CLAIM_VALUES:
        raise FixtureError(
            f"{where}.groupMembershipClaims: {raw!r} is not allowed; expected one of "
            f"{', '.join(GROUP_CLAIM_VALUES)}"
        )
    return str(raw)


def _thumbprint_of(pem: str) -> str:
    from cryptography import x509

    from emulator.certs import sha1_thumbprint_hex

    return sha1_thumbprint_hex(x509.load_pem_x509_certificate(pem.encode()))


def _load_folder(raw: dict[str, Any], user_id: str, parent: str, where: str) -> FolderSpec:
    name = str(_require(raw, "displayName", where))
    well_known = raw.get("wellKnownName")
    folder_id = str(raw.get("id") or stable_id(user_id, "folder", well_known or name))
    messages = raw.get("messages", [])
    if not isinstance(messages, list):
        raise FixtureError(f"{where}.messages must be a list")
    for k, message in enumerate(messages):
        _require(message, "id", f"{where}.messages[{k}]")
    children = [
        _load_folder(child, user_id, folder_id, f"{where}.childFolders[{c}]")
        for c, child in enumerate(raw.get("childFolders", []))
    ]
    return FolderSpec(folder_id, name, well_known, parent, list(messages), children)


def _load_user(raw: dict[str, Any], i: int) -> UserSpec:
    where = f"users[{i}]"
    props = {k: v for k, v in raw.items() if k not in ("mailFolders", "events", "hasMailbox")}
    upn = str(_require(raw, "userPrincipalName", where))
    props.setdefault("id", stable_id(upn, prefix=""))
    props.setdefault("displayName", upn.split("@")[0])
    props.setdefault("mail", upn)
    props.setdefault("preferredDataLocation", None)
    props.setdefault("accountEnabled", True)
    user_id = str(props["id"])
    root = stable_id(user_id, "folder", "msgfolderroot")
    folders = [
        _load_folder(f, user_id, root, f"{where}.mailFolders[{j}]")
        for j, f in enumerate(raw.get("mailFolders", []))
    ]
    present = {f.well_known_name for f in folders}
    for well_known, name in WELL_KNOWN_FOLDERS:
        if well_known not in present:
            folders.append(
                FolderSpec(stable_id(user_id, "folder", well_known), name, well_known, root)
            )
    events = raw.get("events", [])
    for k, event in enumerate(events):
        _require(event, "id", f"{where}.events[{k}]")
    return UserSpec(props, bool(raw.get("hasMailbox", True)), folders, list(events), i)


def _load_generated(raw: dict[str, Any] | None) -> GeneratedSpec | None:
    if raw is None:
        return None
    return GeneratedSpec(
        seed=int(_require(raw, "seed", "generated")),
        messages_per_user=int(raw.get("messagesPerUser", 100)),
        events_per_user=int(raw.get("eventsPerUser", 10)),
        end=str(raw.get("end", "2025-01-31")),
        days=int(raw.get("days", 365)),
        accounts=int(raw.get("accounts", 50)),
    )


def _load_group(raw: dict[str, Any], i: int) -> GroupSpec:
    where = f"groups[{i}]"
    members = raw.get("members", [])
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise FixtureError(f"{where}.members must be a list of user ids, UPNs or group ids")
    group_id = str(_require(raw, "id", where))
    return GroupSpec(group_id, str(raw.get("displayName", group_id)), list(members))


def load_fixture_dict(raw: dict[str, Any]) -> Fixture:
    apps = [_load_app(a, i) for i, a in enumerate(raw.get("apps", []))]
    users = [_load_user(u, i) for i, u in enumerate(raw.get("users", []))]
    seen: set[str] = set()
    for user in users:
        if user.id in seen:
            raise FixtureError(f"users[{user.index}].id {user.id!r} is duplicated")
        seen.add(user.id)
    return Fixture(
        tenant=_load_tenant(_require(raw, "tenant", "fixture")),
        apps=apps,
        users=users,
        generated=_load_generated(raw.get("generated")),
        customer_domains=[str(d) for d in raw.get("customerDomains", [])],
        groups=[_load_group(g, i) for i, g in enumerate(raw.get("groups", []))],
    )


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """The JSON object in `path`; FixtureError naming the file (and `what`) otherwise."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FixtureError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise FixtureError(f"{path}: {what} must be a JSON object")
    return raw


def load_fixture(path: Path) -> Fixture:
    return load_fixture_dict(read_json_object(path, "the fixture"))
