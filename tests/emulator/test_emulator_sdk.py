"""The unmodified msgraph-sdk against the emulator (REFERENCE.md recipe)."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
from azure.identity.aio import ClientSecretCredential

# kiota warns (DeprecationWarning) while its modules are imported; pytest turns warnings into
# errors, and the warning is the SDK's business, not ours.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import (
        DeltaRequestBuilder as CalendarDelta,
    )
    from msgraph.generated.users.item.mail_folders.item.messages.delta import (
        delta_request_builder as message_delta,
    )
    from msgraph.generated.users.item.mail_folders.mail_folders_request_builder import (
        MailFoldersRequestBuilder,
    )
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from emulator.app import Emulator
from emulator.testing import CLIENT_ID, CLIENT_SECRET, graph_service_client, trust_emulator_ca

ADELE = "adele@contoso.com"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
async def client(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    trust_emulator_ca(monkeypatch, emulator)
    async with (
        ClientSecretCredential(
            emulator.tenant_id,
            CLIENT_ID,
            CLIENT_SECRET,
            authority=emulator.authority,
            disable_instance_discovery=True,
        ) as credential,
        graph_service_client(emulator, credential) as graph_client,
    ):
        yield graph_client


async def test_lists_users_with_paging(client: Any) -> None:
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        select=["id", "mail", "preferredDataLocation"], top=1
    )
    page = await client.users.get(
        request_configuration=RequestConfiguration(query_parameters=query)
    )
    users = list(page.value)
    while page.odata_next_link:
        page = await client.users.with_url(page.odata_next_link).get()
        users += page.value
    assert [u.mail for u in users] == [ADELE, "ben@contoso.com"]
    assert users[1].preferred_data_location == "DEU"


async def test_pages_through_folders(client: Any) -> None:
    query = MailFoldersRequestBuilder.MailFoldersRequestBuilderGetQueryParameters(top=3)
    builder = client.users.by_user_id(ADELE).mail_folders
    page = await builder.get(request_configuration=RequestConfiguration(query_parameters=query))
    names = [f.display_name for f in page.value]
    while page.odata_next_link:
        page = await builder.with_url(page.odata_next_link).get()
        names += [f.display_name for f in page.value]
    assert {"Inbox", "Sent Items", "Drafts", "Deleted Items", "Archive"} <= set(names)
    assert len(names) == len(set(names)) == 7


async def _delta_round(
    builder: Any, first: RequestConfiguration[Any] | None, link: str | None
) -> tuple[list[Any], str]:
    config: RequestConfiguration[Any] = first or RequestConfiguration()
    config.headers.add("Prefer", "odata.maxpagesize=4")
    page = await (builder.with_url(link).get(config) if link else builder.get(config))
    items = list(page.value)
    while page.odata_next_link:
        follow: RequestConfiguration[Any] = RequestConfiguration()
        follow.headers.add("Prefer", "odata.maxpagesize=4")
        page = await builder.with_url(page.odata_next_link).get(follow)
        items += page.value
    assert page.odata_delta_link
    return items, page.odata_delta_link


async def test_message_delta_rounds(client: Any, emulator: Emulator) -> None:
    builder = client.users.by_user_id(ADELE).mail_folders.by_mail_folder_id("inbox").messages.delta
    query = message_delta.DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
        select=["internetMessageId", "from", "toRecipients", "receivedDateTime", "conversationId"]
    )
    items, link = await _delta_round(builder, RequestConfiguration(query_parameters=query), None)
    assert len(items) == 12
    assert all(m.subject is None and m.body is None for m in items)
    assert items[0].from_.email_address.address == "alex@fabrikam.com"

    emulator.delete_message(ADELE, items[0].id)
    emulator.update_message(ADELE, items[1].id, {"isRead": False})
    items, link = await _delta_round(builder, None, link)
    removed = [m for m in items if "@removed" in m.additional_data]
    assert [m.id for m in removed] == [items[0].id] or len(removed) == 1
    assert len(items) == 2


async def test_calendar_delta_round(client: Any) -> None:
    builder = client.users.by_user_id(ADELE).calendar_view.delta
    query = CalendarDelta.DeltaRequestBuilderGetQueryParameters(
        start_date_time="2024-05-01T00:00:00Z", end_date_time="2024-06-01T00:00:00Z"
    )
    events, _ = await _delta_round(builder, RequestConfiguration(query_parameters=query), None)
    assert len(events) == 3
    attendee = events[0].attendees[0]
    assert attendee.status.response.value == "accepted"
    assert events[0].organizer.email_address.address == ADELE
