"""Calendar events of a synthetic mailbox: customer meetings with external attendees."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Protocol

from emulator.fixture import GeneratedSpec, UserSpec
from emulator.store import Item

RESPONSES = ("accepted", "tentativelyAccepted", "declined", "none")
RESPONSE_WEIGHTS = (60, 15, 10, 15)
CANARY = "RAPPORT-CANARY"


class MailboxPeople(Protocol):
    """What a mailbox's meetings are drawn from (emulator.synthetic.SyntheticMailbox)."""

    @property
    def spec(self) -> GeneratedSpec: ...
    @property
    def user(self) -> UserSpec: ...
    @property
    def me(self) -> dict[str, Any]: ...
    @property
    def contacts(self) -> list[dict[str, Any]]: ...
    @property
    def colleagues(self) -> list[dict[str, Any]]: ...
    @property
    def start(self) -> float: ...


def _when(moment: dt.datetime) -> dict[str, str]:
    return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}


def _attendee(address: dict[str, Any], response: str) -> dict[str, Any]:
    return {
        "type": "required",
        "status": {"response": response, "time": "0001-01-01T00:00:00Z"},
        **address,
    }


def events_for(mailbox: MailboxPeople, rng: random.Random) -> list[Item]:
    """Meetings spread over the history plus a month ahead (so there is a "next meeting"),
    drawn from `rng` (seeded by the mailbox, so the same every time)."""
    spec = mailbox.spec
    first_day = dt.datetime.fromtimestamp(mailbox.start, dt.UTC).replace(hour=0, minute=0, second=0)
    events: list[Item] = []
    for k in range(spec.events_per_user):
        day = first_day + dt.timedelta(days=rng.randrange(spec.days + 30))
        start = day.replace(hour=rng.randrange(8, 17), minute=rng.choice((0, 30)))
        end = start + dt.timedelta(minutes=rng.choice((30, 45, 60, 90)))
        customers = rng.sample(mailbox.contacts, min(len(mailbox.contacts), rng.randrange(1, 4)))
        colleagues = rng.sample(
            mailbox.colleagues, min(len(mailbox.colleagues), rng.randrange(0, 3))
        )
        organizer = mailbox.me if rng.random() < 0.7 else customers[0]
        attendees = [
            _attendee(a, rng.choices(RESPONSES, RESPONSE_WEIGHTS)[0])
            for a in customers + colleagues
        ]
        if organizer is not mailbox.me:
            attendees.append(_attendee(mailbox.me, rng.choices(RESPONSES, RESPONSE_WEIGHTS)[0]))
        uid = f"040000008200E00074C5B7101A82E008{spec.seed:08X}{mailbox.user.index:08X}{k:08X}"
        created = (start - dt.timedelta(days=rng.randrange(1, 20))).strftime("%Y-%m-%dT%H:%M:%SZ")
        events.append(
            {
                "id": f"AAMkAGSynEv{mailbox.user.index:x}-{k:x}",
                "iCalUId": uid,
                "subject": f"Meeting {CANARY}",
                "bodyPreview": f"{CANARY} agenda",
                "body": {"contentType": "html", "content": f"<p>{CANARY}</p>"},
                "createdDateTime": created,
                "lastModifiedDateTime": created,
                "isAllDay": False,
                "isCancelled": rng.random() < 0.05,
                "isOrganizer": organizer is mailbox.me,
                "type": "singleInstance",
                "showAs": "busy",
                "start": _when(start),
                "end": _when(end),
                "organizer": organizer,
                "attendees": attendees,
            }
        )
    return events
