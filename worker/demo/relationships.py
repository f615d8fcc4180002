"""How the demo's relationships behave over the year: rhythms and patterns.

A `Rhythm` says how often a seller and a customer touch base, how likely the
customer is to answer, and through which channels. Patterns string rhythms
over time: healthy all year, light, one-way outreach that gets no replies,
a relationship that went quiet months ago, or no history at all.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from worker.demo.activity import (
    ActivityLog,
    Invitee,
    Regarding,
    at_working_hours,
    email_thread,
    meeting,
    phone_call,
    task,
)
from worker.demo.people import Person

YEAR = timedelta(days=365)
MEETING_MINUTES = (30, 30, 30, 45, 60, 60, 90)
NOT_ACCEPTED = ("declined", "tentative", "none")


@dataclass(frozen=True)
class Rhythm:
    every_days: float  # mean gap between touch points
    reply_chance: float  # that the customer answers an email
    accept_chance: float  # that the customer accepts a meeting
    mix: tuple[float, float, float, float]  # email thread, meeting, call, task


HEALTHY = Rhythm(7.0, 0.9, 0.85, (0.5, 0.2, 0.25, 0.05))
LIGHT = Rhythm(24.0, 0.7, 0.7, (0.6, 0.15, 0.15, 0.1))
ONE_WAY = Rhythm(9.0, 0.0, 0.0, (0.8, 0.1, 0.0, 0.1))
PATTERNS = ("healthy", "light", "one_way", "gone_quiet", "silent")
PATTERN_WEIGHTS = (0.35, 0.2, 0.15, 0.15, 0.15)


@dataclass(frozen=True)
class Circle:
    """Who is around a relationship: a colleague to bring along, the customer's peers."""

    colleagues: tuple[Person, ...] = ()
    peers: tuple[Person, ...] = ()
    regarding: Regarding = None  # an open opportunity these people are part of


def _response(rng: random.Random, accept_chance: float) -> str:
    return "accepted" if rng.random() < accept_chance else rng.choice(NOT_ACCEPTED)


def touch_point(
    log: ActivityLog,
    seller: Person,
    customer: Person,
    when: datetime,
    rhythm: Rhythm,
    circle: Circle,
) -> None:
    rng = log.rng
    regarding = circle.regarding if rng.random() < 0.35 else None
    channel = rng.choices(("email", "meeting", "call", "task"), weights=rhythm.mix)[0]
    if channel == "email":
        cc = rng.choice(circle.peers) if circle.peers and rng.random() < 0.2 else None
        email_thread(
            log,
            seller,
            customer,
            when,
            reply_chance=rhythm.reply_chance,
            regarding=regarding,
            cc=cc,
        )
    elif channel == "meeting":
        _meeting(log, seller, customer, when, rhythm, circle, regarding)
    elif channel == "call":
        phone_call(
            log,
            seller,
            customer,
            when,
            outbound=rng.random() < 0.65,
            minutes=rng.randint(4, 40),
            regarding=regarding,
        )
    else:
        task(log, seller, customer, when)


def _meeting(
    log: ActivityLog,
    seller: Person,
    customer: Person,
    when: datetime,
    rhythm: Rhythm,
    circle: Circle,
    regarding: Regarding,
) -> None:
    rng = log.rng
    required = [(customer, _response(rng, rhythm.accept_chance))]
    if circle.peers and rng.random() < 0.3:
        required.append((rng.choice(circle.peers), _response(rng, rhythm.accept_chance)))
    optional: tuple[Invitee, ...] = ()
    if circle.colleagues and rng.random() < 0.4:
        optional = ((rng.choice(circle.colleagues), rng.choice(("accepted", "tentative"))),)
    status = "cancelled" if rng.random() < 0.06 else "completed"
    organizer = seller
    if rhythm.reply_chance > 0 and rng.random() < 0.2:
        # The customer sent the invitation: an inbound meeting.
        organizer, required = customer, [(seller, "accepted"), *required[1:]]
    meeting(
        log,
        organizer,
        required,
        when,
        minutes=rng.choice(MEETING_MINUTES),
        optional=optional,
        status=status,
        regarding=regarding,
    )


def relationship(
    log: ActivityLog,
    seller: Person,
    customer: Person,
    *,
    start: datetime,
    end: datetime,
    rhythm: Rhythm,
    circle: Circle = Circle(),
) -> None:
    """Touch points from `start` to `end`, with exponential gaps around the rhythm."""
    when = start + timedelta(days=log.rng.expovariate(1.0 / rhythm.every_days))
    while when < end:
        touch_point(log, seller, customer, at_working_hours(when, log.rng), rhythm, circle)
        when += timedelta(days=log.rng.expovariate(1.0 / rhythm.every_days))


def next_steps(log: ActivityLog, seller: Person, customer: Person, circle: Circle) -> None:
    """What is on the calendar: an upcoming meeting or an open task (the next activity)."""
    rng = log.rng
    if rng.random() < 0.35:
        when = at_working_hours(log.now + timedelta(days=rng.randint(1, 21)), rng)
        meeting(
            log,
            seller,
            [(customer, rng.choice(("accepted", "none")))],
            when,
            minutes=rng.choice(MEETING_MINUTES),
            status="open",
            regarding=circle.regarding,
        )
    if rng.random() < 0.25:
        due = at_working_hours(log.now + timedelta(days=rng.randint(1, 10)), rng)
        task(log, seller, customer, due, status="open")


def play_pattern(
    log: ActivityLog, pattern: str, seller: Person, customer: Person, circle: Circle
) -> None:
    now, rng = log.now, log.rng
    if pattern == "healthy":
        relationship(
            log, seller, customer, start=now - YEAR, end=now, rhythm=HEALTHY, circle=circle
        )
        next_steps(log, seller, customer, circle)
    elif pattern == "light":
        relationship(log, seller, customer, start=now - YEAR, end=now, rhythm=LIGHT, circle=circle)
        next_steps(log, seller, customer, circle)
    elif pattern == "one_way":
        start = now - timedelta(days=rng.randint(60, 150))
        relationship(log, seller, customer, start=start, end=now, rhythm=ONE_WAY, circle=circle)
    elif pattern == "gone_quiet":
        quiet_since = now - timedelta(days=rng.randint(90, 240))
        relationship(
            log, seller, customer, start=now - YEAR, end=quiet_since, rhythm=HEALTHY, circle=circle
        )


def lead_outreach(log: ActivityLog, lead: Person, status: str, owner: Person) -> None:
    """Open leads are being worked now; qualified and disqualified ones were worked before."""
    rng = log.rng
    if status == "open":
        start, end = log.now - timedelta(days=rng.randint(20, 70)), log.now
    else:
        end = log.now - timedelta(days=rng.randint(30, 150))
        start = end - timedelta(days=45)
    rhythm = LIGHT if rng.random() < 0.5 else ONE_WAY
    relationship(
        log,
        owner,
        lead,
        start=start,
        end=end,
        rhythm=Rhythm(8.0, rhythm.reply_chance, rhythm.accept_chance, rhythm.mix),
    )


def internal_chatter(log: ActivityLog, sellers: list[Person]) -> None:
    """Activities with no customer in them: ingestion keeps none of these."""
    rng = log.rng
    for _ in range(20):
        host, guest = rng.sample(sellers, k=2)
        when = at_working_hours(log.now - timedelta(days=rng.randint(1, 360)), rng)
        meeting(log, host, [(guest, "accepted")], when, minutes=30)
    for _ in range(8):
        when = at_working_hours(log.now - timedelta(days=rng.randint(1, 360)), rng)
        seller = rng.choice(sellers)
        activity_id = log.add("email", seller, when, direction="outgoing")
        if activity_id is not None:
            log.party(activity_id, "from", seller)
            log.stranger(activity_id, "to", "registrations@contoso-expo.com")
