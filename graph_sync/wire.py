"""Graph response pages decoded from raw bytes into our own small structs.

Field names keep Graph's camelCase so that msgspec maps them without renaming.

msgspec decodes only the fields named here and skips everything else without
building it (a subject or body that slipped through is never materialised).
A page is decoded in two steps: the envelope with each item left as raw
bytes, then each item on its own, so one malformed item is skipped and
counted instead of failing the page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

# Graph sends UTC with a `Z`; a time without an offset would be read as local time.
UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]


class EmailAddress(msgspec.Struct, frozen=True):
    address: str | None = None


class Recipient(msgspec.Struct, frozen=True):
    emailAddress: EmailAddress | None = None


class Removed(msgspec.Struct, frozen=True):
    reason: str | None = None


class Message(msgspec.Struct, frozen=True):
    id: str
    internetMessageId: str | None = None
    conversationId: str | None = None
    sender_: Recipient | None = msgspec.field(default=None, name="from")
    sender: Recipient | None = None
    toRecipients: list[Recipient] = []
    ccRecipients: list[Recipient] = []
    bccRecipients: list[Recipient] = []
    sentDateTime: UtcTime | None = None
    receivedDateTime: UtcTime | None = None
    isDraft: bool | None = None
    removed: Removed | None = msgspec.field(default=None, name="@removed")


class DateTimeTimeZone(msgspec.Struct, frozen=True):
    dateTime: str
    timeZone: str | None = None


class ResponseStatus(msgspec.Struct, frozen=True):
    response: str | None = None


class Attendee(msgspec.Struct, frozen=True):
    emailAddress: EmailAddress | None = None
    type: str | None = None
    status: ResponseStatus | None = None


class Event(msgspec.Struct, frozen=True):
    id: str
    iCalUId: str | None = None
    organizer: Recipient | None = None
    attendees: list[Attendee] = []
    start: DateTimeTimeZone | None = None
    end: DateTimeTimeZone | None = None
    isCancelled: bool | None = None
    isAllDay: bool | None = None
    removed: Removed | None = msgspec.field(default=None, name="@removed")


class Page(msgspec.Struct, frozen=True):
    value: list[msgspec.Raw] = []
    next_link: str | None = msgspec.field(default=None, name="@odata.nextLink")
    delta_link: str | None = msgspec.field(default=None, name="@odata.deltaLink")


class Folder(msgspec.Struct, frozen=True):
    id: str
    displayName: str | None = None
    childFolderCount: int | None = None
    wellKnownName: str | None = None


class FolderPage(msgspec.Struct, frozen=True):
    value: list[Folder] = []
    next_link: str | None = msgspec.field(default=None, name="@odata.nextLink")


class User(msgspec.Struct, frozen=True):
    id: str
    mail: str | None = None
    userPrincipalName: str | None = None
    preferredDataLocation: str | None = None


class UserPage(msgspec.Struct, frozen=True):
    value: list[msgspec.Raw] = []
    next_link: str | None = msgspec.field(default=None, name="@odata.nextLink")


PAGE = msgspec.json.Decoder(Page)
FOLDER_PAGE = msgspec.json.Decoder(FolderPage)
USER_PAGE = msgspec.json.Decoder(UserPage)
MESSAGE = msgspec.json.Decoder(Message)
EVENT = msgspec.json.Decoder(Event)
USER = msgspec.json.Decoder(User)
