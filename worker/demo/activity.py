"""The demo CRM's history: email threads, meetings, calls and tasks as a CRM logs them.

An `ActivityLog` collects `crm_activity` and `crm_activity_party` rows. People
are given the ways real CRMs give them: sometimes by record reference,
sometimes only by address, typed with stray capitals or spaces, and now and
then an address of someone who is in no CRM record at all (an assistant, a
shared mailbox); ingestion has to normalise the first and drop the last.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from worker.demo.people import Person, record_id

Regarding = tuple[str, str] | None  # (regarding_type, regarding_id)
Invitee = tuple[Person, str]  # (attendee, response: accepted/tentative/declined/none)


def _as_typed(address: str, rng: random.Random) -> str:
    """The address as someone typed it into the CRM: same mailbox, different spelling."""
    roll = rng.random()
    if roll < 0.12:
        local, domain = address.split("@")
        return f"{local.title()}@{domain.capitalize()}"
    if roll < 0.2:
        return f"  {address.upper()} "
    return address


def at_working_hours(day: datetime, rng: random.Random) -> datetime:
    """A plausible office-hours moment on `day`, moved off weekends."""
    if day.weekday() >= 5:
        day += timedelta(days=7 - day.weekday())
    return day.replace(
        hour=rng.randint(8, 17), minute=rng.randrange(0, 60, 5), second=0, microsecond=0
    )


def reply_delay(rng: random.Random, median_hours: float) -> timedelta:
    """Reply delays are log-normal: mostly within hours, occasionally next day."""
    hours = median_hours * math.exp(rng.gauss(0.0, 0.7))
    return timedelta(hours=min(max(hours, 0.2), 72.0))


@dataclass
class ActivityLog:
    rng: random.Random
    now: datetime
    activities: list[dict[str, Any]] = field(default_factory=list)
    parties: list[dict[str, Any]] = field(default_factory=list)
    strangers: set[str] = field(default_factory=set)  # normalised unknown addresses

    def add(
        self,
        kind: str,
        owner: Person,
        start: datetime,
        *,
        end: datetime | None = None,
        direction: str | None = None,
        status: str = "completed",
        regarding: Regarding = None,
        conversation_id: str | None = None,
        engagement: tuple[int, int] | None = None,
    ) -> str | None:
        """Log one activity; None when a completed one would lie in the future."""
        if status != "open" and (end or start) >= self.now:
            return None
        activity_id = record_id("crm_activity", len(self.activities))
        opens, clicks = engagement or (0, 0)
        self.activities.append(
            {
                "id": activity_id,
                "kind": kind,
                "owner_id": owner.record_id,
                "direction": direction,
                "status": status,
                "start_at": start,
                "end_at": end,
                "regarding_type": regarding[0] if regarding else None,
                "regarding_id": regarding[1] if regarding else None,
                "conversation_id": conversation_id,
                # Tracked emails carry their Internet message id, as Dynamics logs them.
                "internet_message_id": f"<{activity_id}@mail.northwindtraders.com>"
                if engagement
                else None,
                "opens": opens,
                "clicks": clicks,
                "modified_at": min(end or start, self.now),
            }
        )
        return activity_id

    def party(
        self, activity_id: str, role: str, person: Person, response: str | None = None
    ) -> None:
        by_reference = self.rng.random() < 0.5
        address = person.email
        if person.alt_email and self.rng.random() < 0.3:
            address = person.alt_email
        self.parties.append(
            {
                "activity_id": activity_id,
                "role": role,
                "address": None if by_reference else _as_typed(address, self.rng),
                "record_type": person.record_type if by_reference else None,
                "record_id": person.record_id if by_reference else None,
                "response": response,
            }
        )

    def stranger(self, activity_id: str, role: str, address: str) -> None:
        self.strangers.add(address.strip().lower())
        self.parties.append(
            {
                "activity_id": activity_id,
                "role": role,
                "address": _as_typed(address, self.rng),
                "record_type": None,
                "record_id": None,
                "response": None,
            }
        )


def email(
    log: ActivityLog,
    seller: Person,
    customer: Person,
    when: datetime,
    *,
    outbound: bool,
    conversation_id: str,
    regarding: Regarding = None,
    cc: Person | None = None,
    engagement: tuple[int, int] | None | Literal["drawn"] = "drawn",
) -> str | None:
    """An email between the seller and the customer. Its opens and clicks, and whether
    an assistant is copied, are drawn from the log's random source, unless `engagement`
    gives them (opens, clicks; None: not tracked): then nothing is drawn."""
    drawn = False
    if isinstance(engagement, str):
        drawn, tracked = True, outbound and log.rng.random() < 0.3
        engagement = (log.rng.randint(0, 4), log.rng.randint(0, 2)) if tracked else None
    activity_id = log.add(
        "email",
        seller,
        when,
        direction="outgoing" if outbound else "incoming",
        regarding=regarding,
        conversation_id=conversation_id,
        engagement=engagement,
    )
    if activity_id is None:
        return None
    sender, recipient = (seller, customer) if outbound else (customer, seller)
    log.party(activity_id, "from", sender)
    log.party(activity_id, "to", recipient)
    if cc is not None:
        log.party(activity_id, "cc", cc)
    if drawn and log.rng.random() < 0.04:
        domain = customer.email.split("@")[1]
        log.stranger(activity_id, "cc", f"{log.rng.choice(('assistant', 'office'))}@{domain}")
    return activity_id


def email_thread(
    log: ActivityLog,
    seller: Person,
    customer: Person,
    start: datetime,
    *,
    reply_chance: float,
    regarding: Regarding = None,
    cc: Person | None = None,
) -> None:
    """A conversation: messages alternate sides while the other side keeps replying."""
    conversation_id = record_id("conversation", f"{len(log.activities)}-{customer.record_id}")
    outbound = log.rng.random() < 0.7
    when = start
    for _turn in range(log.rng.randint(2, 6)):
        if (
            email(
                log,
                seller,
                customer,
                when,
                outbound=outbound,
                conversation_id=conversation_id,
                regarding=regarding,
                cc=cc,
            )
            is None
        ):
            return
        they_are_next = outbound
        if log.rng.random() >= (reply_chance if they_are_next else 0.9):
            return
        when += reply_delay(log.rng, 5.0 if they_are_next else 2.5)
        outbound = not outbound


def meeting(
    log: ActivityLog,
    organizer: Person,
    required: list[Invitee],
    start: datetime,
    *,
    minutes: int,
    optional: tuple[Invitee, ...] = (),
    status: str = "completed",
    regarding: Regarding = None,
) -> None:
    """An appointment; a customer-organised one is owned by the first seller invited."""
    owner = organizer
    if organizer.record_type != "system_user":
        owner = next(p for p, _ in (*required, *optional) if p.record_type == "system_user")
    end = start + timedelta(minutes=minutes)
    activity_id = log.add("appointment", owner, start, end=end, status=status, regarding=regarding)
    if activity_id is None:
        return
    log.party(activity_id, "organizer", organizer, "accepted")
    for role, invitees in (("required", required), ("optional", optional)):
        for person, response in invitees:
            log.party(activity_id, role, person, response)


def phone_call(
    log: ActivityLog,
    seller: Person,
    customer: Person,
    when: datetime,
    *,
    outbound: bool,
    minutes: int,
    regarding: Regarding = None,
) -> None:
    activity_id = log.add(
        "phone_call",
        seller,
        when,
        end=when + timedelta(minutes=minutes),
        direction="outgoing" if outbound else "incoming",
        regarding=regarding,
    )
    if activity_id is None:
        return
    log.party(activity_id, "to" if outbound else "from", customer)
    # Many CRMs log a call with the customer only; the owner is implied.
    if log.rng.random() < 0.5:
        log.party(activity_id, "from" if outbound else "to", seller)


def task(
    log: ActivityLog, seller: Person, customer: Person, due: datetime, *, status: str = "completed"
) -> None:
    log.add(
        "task",
        seller,
        due,
        end=due,
        status=status,
        regarding=(customer.record_type, customer.record_id),
    )
