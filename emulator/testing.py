"""Test helpers: a fixture builder, a running-emulator context, SDK wiring.

Usable from any conftest:

    @pytest.fixture
    async def emulator(tmp_path):
        async with running_emulator(FixtureBuilder.standard().build(), workdir=tmp_path) as em:
            yield em
"""

from __future__ import annotations

import datetime as dt
import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx

from emulator.app import Emulator
from emulator.certs import AppCertificate
from emulator.fixture import Fixture, load_fixture, load_fixture_dict, stable_id

TENANT_ID = "6f1a2b3c-0000-4000-8000-00000000c0de"
CLIENT_ID = "0e1d2c3b-0000-4000-8000-0000000a4401"
CLIENT_SECRET = "emulator-secret-value"
CANARY = "RAPPORT-CANARY"  # appears in every subject/body/preview; must never reach Rapport's DB
METADATA_ROLES = ("Mail.ReadBasic.All", "Calendars.ReadBasic.All", "User.Read.All")
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class EnvPatcher(Protocol):
    """The part of pytest's MonkeyPatch we need (kept structural so pytest is not imported)."""

    def setenv(self, name: str, value: str, prepend: str | None = None) -> None: ...

    def setattr(self, target: object, name: str, value: object, raising: bool = True) -> None: ...


class TokenIssuer(Protocol):
    """Where an emulator issues tokens: an in-process `Emulator`, or the addresses one
    served apart (`emulator.cli serve`) printed."""

    @property
    def authority(self) -> str: ...

    @property
    def tenant_id(self) -> str: ...

    @property
    def ca_pem_path(self) -> Path: ...


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _address(email: str, name: str | None = None) -> dict[str, Any]:
    return {
        "emailAddress": {
            "name": name or email.split("@")[0].replace(".", " ").title(),
            "address": email,
        }
    }


def make_message(
    sender: str,
    to: list[str],
    *,
    received: dt.datetime,
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    conversation_id: str | None = None,
    message_id: str | None = None,
    internet_message_id: str | None = None,
    is_draft: bool = False,
    delay: dt.timedelta = dt.timedelta(seconds=2),
) -> dict[str, Any]:
    """A Graph message resource with canary subject/body/preview."""
    key = internet_message_id or f"<{uuid.uuid4().hex}@{sender.split('@')[1]}>"
    return {
        "id": message_id or stable_id("message", key),
        "internetMessageId": key,
        "conversationId": conversation_id or stable_id("conversation", key, prefix="AAQkA"),
        "createdDateTime": _iso(received),
        "lastModifiedDateTime": _iso(received),
        "sentDateTime": _iso(received - delay),
        "receivedDateTime": _iso(received),
        "hasAttachments": False,
        "subject": f"{CANARY} subject {key}",
        "bodyPreview": f"{CANARY} preview",
        "body": {"contentType": "text", "content": f"{CANARY} body of {key}"},
        "importance": "normal",
        "isRead": True,
        "isDraft": is_draft,
        "from": _address(sender),
        "sender": _address(sender),
        "toRecipients": [_address(a) for a in to],
        "ccRecipients": [_address(a) for a in cc or []],
        "bccRecipients": [_address(a) for a in bcc or []],
        "replyTo": [],
    }


def make_event(
    organizer: str,
    attendees: dict[str, str],
    *,
    start: dt.datetime,
    minutes: int = 30,
    is_cancelled: bool = False,
    event_id: str | None = None,
    ical_uid: str | None = None,
) -> dict[str, Any]:
    """A Graph event resource; `attendees` maps address -> response (accepted, declined, ...)."""
    uid = ical_uid or "040000008200E00074C5B7101A82E008" + uuid.uuid4().hex.upper()
    end = start + dt.timedelta(minutes=minutes)
    return {
        "id": event_id or stable_id("event", uid),
        "iCalUId": uid,
        "subject": f"{CANARY} meeting",
        "bodyPreview": f"{CANARY} agenda",
        "body": {"contentType": "html", "content": f"<p>{CANARY} agenda</p>"},
        "createdDateTime": _iso(start - dt.timedelta(days=2)),
        "lastModifiedDateTime": _iso(start - dt.timedelta(days=2)),
        "isAllDay": False,
        "isCancelled": is_cancelled,
        "isOrganizer": True,
        "type": "singleInstance",
        "showAs": "busy",
        "start": {
            "dateTime": start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
            "timeZone": "UTC",
        },
        "end": {
            "dateTime": end.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
            "timeZone": "UTC",
        },
        "organizer": _address(organizer),
        "attendees": [
            {
                "type": "required",
                "status": {"response": response, "time": "0001-01-01T00:00:00Z"},
                **_address(a),
            }
            for a, response in attendees.items()
        ],
    }


class FixtureBuilder:
    """Builds fixture dicts (the JSON format of docs/emulator.md) in a few lines."""

    def __init__(
        self, tenant_id: str = TENANT_ID, domains: tuple[str, ...] = ("contoso.com",)
    ) -> None:
        self._raw: dict[str, Any] = {
            "tenant": {
                "id": tenant_id,
                "displayName": "Contoso",
                "verifiedDomains": list(domains),
                "defaultDataLocation": "EUR",
                "countryLetterCode": "US",
            },
            "apps": [],
            "users": [],
        }
        self._users: dict[str, dict[str, Any]] = {}

    def app(
        self,
        client_id: str = CLIENT_ID,
        *,
        secret: str | None = CLIENT_SECRET,
        roles: tuple[str, ...] = METADATA_ROLES,
        certificate: AppCertificate | None = None,
        redirect_uris: tuple[str, ...] = (),
        group_claims: str = "None",
    ) -> FixtureBuilder:
        entry: dict[str, Any] = {
            "clientId": client_id,
            "displayName": "Rapport",
            "roles": list(roles),
            "secrets": [secret] if secret else [],
            "redirectUris": list(redirect_uris),
            "groupMembershipClaims": group_claims,
        }
        if certificate is not None:
            entry["certificates"] = [{"certificatePem": certificate.certificate_pem.decode()}]
        self._raw["apps"].append(entry)
        return self

    def user(
        self,
        upn: str,
        *,
        display_name: str | None = None,
        data_location: str | None = None,
        has_mailbox: bool = True,
    ) -> FixtureBuilder:
        entry = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, upn)),
            "userPrincipalName": upn,
            "mail": upn,
            "displayName": display_name or upn.split("@")[0].replace(".", " ").title(),
            "preferredDataLocation": data_location,
            "hasMailbox": has_mailbox,
            "mailFolders": [
                {"displayName": "Inbox", "wellKnownName": "inbox", "messages": []},
                {"displayName": "Sent Items", "wellKnownName": "sentitems", "messages": []},
            ],
            "events": [],
        }
        self._raw["users"].append(entry)
        self._users[upn] = entry
        return self

    def group(
        self, group_id: str, members: tuple[str, ...], display_name: str | None = None
    ) -> FixtureBuilder:
        """A group of users (UPNs or ids) and nested groups (ids)."""
        self._raw.setdefault("groups", []).append(
            {"id": group_id, "displayName": display_name or group_id, "members": list(members)}
        )
        return self

    def child_folder(self, upn: str, parent_well_known: str, name: str) -> FixtureBuilder:
        parent = next(
            f
            for f in self._users[upn]["mailFolders"]
            if f.get("wellKnownName") == parent_well_known
        )
        parent.setdefault("childFolders", []).append({"displayName": name, "messages": []})
        return self

    def message(self, upn: str, message: dict[str, Any], folder: str = "inbox") -> FixtureBuilder:
        target = next(
            f for f in self._users[upn]["mailFolders"] if f.get("wellKnownName") == folder
        )
        target["messages"].append(message)
        return self

    def inbox_burst(self, upn: str, sender: str, count: int, start: dt.datetime) -> FixtureBuilder:
        """`count` messages from `sender` in `upn`'s inbox, an hour apart from `start`
        (ids `<bulk-N@sender's domain>`): inbox pages enough to stop a sync between two."""
        domain = sender.split("@", 1)[1]
        for n in range(count):
            self.message(
                upn,
                make_message(
                    sender,
                    [upn],
                    received=start + dt.timedelta(hours=n),
                    internet_message_id=f"<bulk-{n}@{domain}>",
                ),
            )
        return self

    def event(self, upn: str, event: dict[str, Any]) -> FixtureBuilder:
        self._users[upn]["events"].append(event)
        return self

    def generated(
        self, seed: int, messages_per_user: int, events_per_user: int = 10
    ) -> FixtureBuilder:
        self._raw["generated"] = {
            "seed": seed,
            "messagesPerUser": messages_per_user,
            "eventsPerUser": events_per_user,
        }
        for user in self._raw["users"]:
            user.pop("mailFolders", None)
            user.pop("events", None)
        return self

    def build(self) -> dict[str, Any]:
        return self._raw

    def fixture(self) -> Fixture:
        return load_fixture_dict(self._raw)

    @classmethod
    def standard(
        cls, *, certificate: AppCertificate | None = None, roles: tuple[str, ...] = METADATA_ROLES
    ) -> FixtureBuilder:
        """Two sellers, a customer (fabrikam.com), a few messages and meetings; fixed dates."""
        builder = cls(domains=("contoso.com", "contoso.onmicrosoft.com"))
        builder.app(roles=roles, certificate=certificate)
        builder.user("adele@contoso.com").user("ben@contoso.com", data_location="DEU")
        base = dt.datetime(2024, 5, 6, 9, 0, tzinfo=dt.UTC)
        for n in range(12):
            sent_at = base + dt.timedelta(hours=5 * n)
            builder.message(
                "adele@contoso.com",
                make_message(
                    "alex@fabrikam.com",
                    ["adele@contoso.com"],
                    received=sent_at,
                    internet_message_id=f"<in-{n}@fabrikam.com>",
                ),
            )
            builder.message(
                "adele@contoso.com",
                make_message(
                    "adele@contoso.com",
                    ["alex@fabrikam.com"],
                    cc=["ben@contoso.com"],
                    received=sent_at + dt.timedelta(hours=2),
                    internet_message_id=f"<out-{n}@contoso.com>",
                ),
                folder="sentitems",
            )
        for n in range(3):
            builder.event(
                "adele@contoso.com",
                make_event(
                    "adele@contoso.com",
                    {"alex@fabrikam.com": "accepted", "ben@contoso.com": "tentativelyAccepted"},
                    start=base + dt.timedelta(days=n + 1),
                    ical_uid=f"040000008200E00074C5B7101A82E0080000{n}",
                ),
            )
        return builder


Loaded = TypeVar("Loaded")


def as_loaded(
    source: Loaded | dict[str, Any] | Path,
    kind: type[Loaded],
    from_file: Callable[[Path], Loaded],
    from_dict: Callable[[dict[str, Any]], Loaded],
) -> Loaded:
    """What a test helper takes for a tenant or an environment: the loaded value, a
    file, or the document as a dict."""
    if isinstance(source, kind):
        return source
    if isinstance(source, Path):
        return from_file(source)
    assert isinstance(source, dict)
    return from_dict(source)


def as_fixture(source: Fixture | dict[str, Any] | Path) -> Fixture:
    return as_loaded(source, Fixture, load_fixture, load_fixture_dict)


@asynccontextmanager
async def running_emulator(
    fixture: Fixture | dict[str, Any] | Path, **options: Any
) -> AsyncIterator[Emulator]:
    """Start an emulator on free loopback ports for the duration of the block."""
    emulator = Emulator(as_fixture(fixture), **options)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


async def fetch_token(
    emulator: TokenIssuer,
    client_id: str = CLIENT_ID,
    secret: str = CLIENT_SECRET,
    *,
    scope: str = GRAPH_SCOPE,
) -> str:
    """An app-only access token straight from the token endpoint (no azure-identity)."""
    context = ssl.create_default_context(cafile=str(emulator.ca_pem_path))
    async with httpx.AsyncClient(verify=context) as client:
        reply = await client.post(
            f"{emulator.authority}/{emulator.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "scope": scope,
            },
        )
    reply.raise_for_status()
    return str(reply.json()["access_token"])


def trust_emulator_ca(monkeypatch: EnvPatcher, emulator: Emulator) -> None:
    """Trust the test CA: SSL_CERT_FILE for aio credentials, REQUESTS_CA_BUNDLE for sync."""
    monkeypatch.setenv("SSL_CERT_FILE", str(emulator.ca_pem_path))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca_pem_path))
    # aiohttp builds its verifying SSL context once, when aiohttp.connector is imported, so an
    # SSL_CERT_FILE set later (aiohttp is already imported by the in-process emulator) never
    # reaches azure.identity.aio. Swap that cached context for one that also trusts the CA;
    # monkeypatch restores the original after the test. A separate process needs only the env.
    import aiohttp.connector

    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(emulator.ca_pem_path))
    context.set_alpn_protocols(["http/1.1"])
    monkeypatch.setattr(aiohttp.connector, "_SSL_CONTEXT_VERIFIED", context)


@asynccontextmanager
async def graph_service_client(emulator: Emulator, credential: Any) -> AsyncIterator[Any]:
    """An unmodified msgraph GraphServiceClient pointed at the emulator; closes its HTTP client.

    The SDK is imported lazily (it is large and warns on import).
    """
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph.graph_service_client import GraphServiceClient
    from msgraph_core import GraphClientFactory

    auth = AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_SCOPE])
    # The SDK wraps the client's transport in a middleware transport whose aclose() does not
    # close the wrapped connection pool, so keep a handle on the pool and close it ourselves.
    pool = httpx.AsyncHTTPTransport()
    http_client = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(transport=pool, timeout=30.0)
    )
    adapter = GraphRequestAdapter(auth, client=http_client)
    adapter.base_url = emulator.graph_url
    try:
        yield GraphServiceClient(request_adapter=adapter)
    finally:
        await http_client.aclose()
        await pool.aclose()
