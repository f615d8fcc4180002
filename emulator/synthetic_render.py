"""Synthetic messages straight to JSON text, skipping dicts and the encoder.

The delta fast path: an unchanged synthetic message is rendered from pre-encoded
fragments (addresses are encoded once per mailbox) into a `msgspec.Raw` that the
page encoder copies verbatim. This is what lets one core serve tens of thousands
of messages a second; changed messages still go through the ordinary dict path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

CANARY = "RAPPORT-CANARY"


@dataclass(frozen=True, slots=True)
class Parts:
    id: str
    sent: str
    received: str
    internet_message_id: str
    conversation_id: str
    subject: str
    parent_folder_id: str
    sender: str  # pre-encoded JSON of the address object
    recipient: str
    cc: str  # "" or one pre-encoded address


# Per property, its JSON member as a str.format template over one Parts (`p`).
FRAGMENTS: dict[str, str] = {
    "id": '"id":"{p.id}"',
    "createdDateTime": '"createdDateTime":"{p.received}"',
    "lastModifiedDateTime": '"lastModifiedDateTime":"{p.received}"',
    "receivedDateTime": '"receivedDateTime":"{p.received}"',
    "sentDateTime": '"sentDateTime":"{p.sent}"',
    "hasAttachments": '"hasAttachments":false',
    "internetMessageId": '"internetMessageId":"{p.internet_message_id}"',
    "subject": '"subject":"{p.subject}"',
    "bodyPreview": f'"bodyPreview":"{CANARY} preview"',
    "body": f'"body":{{{{"contentType":"text","content":"{CANARY} body"}}}}',
    "importance": '"importance":"normal"',
    "parentFolderId": '"parentFolderId":"{p.parent_folder_id}"',
    "conversationId": '"conversationId":"{p.conversation_id}"',
    "isRead": '"isRead":true',
    "isDraft": '"isDraft":false',
    "from": '"from":{p.sender}',
    "sender": '"sender":{p.sender}',
    "toRecipients": '"toRecipients":[{p.recipient}]',
    "ccRecipients": '"ccRecipients":[{p.cc}]',
    "bccRecipients": '"bccRecipients":[]',
}
ALL_FIELDS = tuple(FRAGMENTS)


def encode_address(address: object) -> str:
    return msgspec.json.encode(address).decode()


def renderer(
    fields: tuple[str, ...] | None, withheld: frozenset[str]
) -> Callable[[Parts], msgspec.Raw]:
    """Build the per-message function for one `$select` (None: every stored property).

    One str.format call per message: the selected members are joined into a single
    template once, here, instead of per message.
    """
    wanted = ["id", *(f for f in (fields or ALL_FIELDS) if f != "id")]
    members = [FRAGMENTS[f] for f in wanted if f in FRAGMENTS and f not in withheld]
    template = "{{" + ",".join(members) + "}}"

    def render(parts: Parts) -> msgspec.Raw:
        return msgspec.Raw(template.format(p=parts).encode())

    return render
