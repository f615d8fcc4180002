"""Graph messages and events -> interactions (metadata only, CRM people only).

Direction comes from the sender's domain: a tenant domain (or a configured
internal domain) means our side wrote it. People are matched to CRM records
by address; anyone who matches nothing is dropped here and never stored. An
item with no CRM customer on it says nothing about a relationship and yields
no interaction, and neither does one older than the retention window
(`not_before`): the window filter Graph applies is on receivedDateTime, the
interaction's time is when it was sent, and a purged item must not return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from graph_sync.wire import Attendee, DateTimeTimeZone, Event, Message, Recipient
from storage.directory import Directory
from storage.interaction_store import InteractionRecord, PartyRow

RESPONSES = {
    "accepted": "accepted",
    "organizer": "accepted",
    "tentativelyaccepted": "tentative",
    "declined": "declined",
    "none": "none",
    "notresponded": "none",
}
RESPONSE_CLARITY = {None: 0, "none": 0, "tentative": 1, "declined": 2, "accepted": 2}
ATTENDEE_ROLES = {"required": "required", "optional": "optional", "resource": "optional"}
# A backfill meets the same few thousand people on every page: their parties are
# remembered for the round (the directory does not change during it). A bound,
# since strangers' addresses are unbounded; past it the memo starts over.
PARTY_MEMO_LIMIT = 50_000
PartyMemoKey = tuple[str | None, str, str | None]  # address as sent, role, response


@dataclass(frozen=True, slots=True)
class Normaliser:
    directory: Directory
    internal_domains: frozenset[str]
    not_before: datetime | None = None  # the retention cutoff
    _parties: dict[PartyMemoKey, PartyRow | None] = field(
        default_factory=dict, repr=False, compare=False
    )

    def retained(self, occurred_at: datetime) -> bool:
        return self.not_before is None or occurred_at >= self.not_before

    def is_internal(self, address: str | None) -> bool:
        if not address:
            return False
        return address.rpartition("@")[2].strip().lower() in self.internal_domains

    def _party(
        self, address: str | None, role: str, response: str | None = None
    ) -> PartyRow | None:
        memo = self._parties
        key = (address, role, response)
        if key in memo:
            return memo[key]
        if len(memo) >= PARTY_MEMO_LIMIT:
            memo.clear()
        party = memo[key] = self._match(address, role, response)
        return party

    def _match(self, address: str | None, role: str, response: str | None) -> PartyRow | None:
        record = self.directory.match_address(address)
        if record is None:
            return None
        side = "internal" if record[0] == "system_user" else "external"
        return PartyRow(record[0], record[1], role, side, response)

    def _recipients(self, recipients: list[Recipient], role: str, into: set[PartyRow]) -> None:
        for recipient in recipients:
            email = recipient.emailAddress
            party = self._party(email.address if email else None, role)
            if party is not None:
                into.add(party)

    def message(self, message: Message) -> InteractionRecord | None:
        sender = message.sender_ or message.sender
        sender_address = sender.emailAddress.address if sender and sender.emailAddress else None
        occurred_at = message.sentDateTime or message.receivedDateTime
        if message.isDraft or occurred_at is None or not message.internetMessageId:
            return None
        if not self.retained(occurred_at.astimezone(UTC)):
            return None
        parties: set[PartyRow] = set()
        first = self._party(sender_address, "from")
        if first is not None:
            parties.add(first)
        self._recipients(message.toRecipients, "to", parties)
        self._recipients(message.ccRecipients, "cc", parties)
        self._recipients(message.bccRecipients, "bcc", parties)
        return self._interaction(
            f"msg:{message.internetMessageId.strip()}",
            "email",
            sender_address,
            occurred_at.astimezone(UTC),
            parties,
            conversation_id=message.conversationId,
        )

    def _interaction(
        self,
        key: str,
        kind: str,
        by: str | None,
        occurred_at: datetime,
        parties: set[PartyRow],
        *,
        conversation_id: str | None = None,
        duration_minutes: float = 0.0,
    ) -> InteractionRecord | None:
        """An item as an interaction, if someone on it is external (one among ourselves
        describes no customer relationship); outbound when `by`, who sent or organised
        it, is one of us."""
        if not any(party.side == "external" for party in parties):
            return None
        return InteractionRecord(
            key=key,
            source="exchange",
            kind=kind,
            direction="outbound" if self.is_internal(by) else "inbound",
            occurred_at=occurred_at,
            parties=frozenset(parties),
            conversation_id=conversation_id,
            duration_minutes=duration_minutes,
        )

    def _attendee(self, attendee: Attendee) -> PartyRow | None:
        email = attendee.emailAddress
        response = attendee.status.response if attendee.status else None
        return self._party(
            email.address if email else None,
            ATTENDEE_ROLES.get((attendee.type or "required").lower(), "required"),
            RESPONSES.get((response or "none").lower(), "none"),
        )

    def event(self, event: Event) -> InteractionRecord | None:
        if event.isCancelled or not event.iCalUId or event.start is None:
            return None
        start = parse_graph_time(event.start)
        if not self.retained(start):
            return None
        end = parse_graph_time(event.end) if event.end else start
        organizer = event.organizer.emailAddress if event.organizer else None
        organizer_address = organizer.address if organizer else None
        first = self._party(organizer_address, "organizer", "accepted")
        people: dict[tuple[str, str, str], PartyRow] = {}
        for attendee in event.attendees:
            party = self._attendee(attendee)
            # The organizer is usually listed among the attendees too: count them once.
            if party is None or (first is not None and party[:2] == first[:2]):
                continue
            # One person listed twice (two of their addresses): one row, the clearest answer.
            kept = people.get(party[:3])
            if kept is None or RESPONSE_CLARITY[party.response] > RESPONSE_CLARITY[kept.response]:
                people[party[:3]] = party
        parties = set(people.values()) | ({first} if first is not None else set())
        return self._interaction(
            f"evt:{event.iCalUId}",
            "meeting",
            organizer_address,
            start,
            parties,
            duration_minutes=max(0.0, round((end - start).total_seconds() / 60.0, 2)),
        )


def parse_graph_time(value: DateTimeTimeZone) -> datetime:
    """Graph's dateTimeTimeZone; we ask for UTC (Prefer: outlook.timezone="UTC")."""
    text = value.dateTime.rstrip("Z")
    if "." in text:  # Graph sends 7 fractional digits; Python reads at most 6
        head, fraction = text.split(".", 1)
        text = f"{head}.{fraction[:6]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        # The value itself stays out of the message: errors are logged.
        raise ValueError("start/end: dateTime is not an ISO-8601 time") from None
    if value.timeZone not in (None, "UTC", "Etc/UTC", "Coordinated Universal Time"):
        raise ValueError(f"start/end: time zone {value.timeZone!r}; expected UTC")
    return parsed.replace(tzinfo=UTC)
