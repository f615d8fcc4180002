"""The demo's story: a strategic deal whose main contact has gone silent.

For a year the account's primary contact answers quickly, takes calls and
comes to meetings. About five weeks before `now` that stops: our seller's
last three emails go unanswered (and unopened), the last two meetings are
declined or ignored. Meanwhile the secondary contact stays engaged: quick
replies, accepted meetings, calls in the last days, a meeting next week. A
seller skimming the CRM sees an active deal; Rapport has to show the risk.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from worker.demo.activity import (
    ActivityLog,
    Regarding,
    at_working_hours,
    email,
    meeting,
    phone_call,
)
from worker.demo.people import Person, record_id
from worker.demo.relationships import HEALTHY, YEAR, Circle, relationship

SILENT_FOR = timedelta(days=36)  # the primary contact's last reply


def _day(log: ActivityLog, days_ago: float) -> datetime:
    return at_working_hours(log.now - timedelta(days=days_ago), log.rng)


def _thread(
    log: ActivityLog,
    seller: Person,
    customer: Person,
    thread: str,
    deal: Regarding,
    sent: Iterable[tuple[datetime, bool]],
) -> None:
    """The story's emails in one thread, each (when, outbound), drawing nothing random;
    ours tracked, so the silence also shows as zero opens on our follow-ups."""
    for when, outbound in sent:
        activity_id = email(
            log,
            seller,
            customer,
            when,
            outbound=outbound,
            conversation_id=thread,
            regarding=deal,
            engagement=(0, 0) if outbound else None,
        )
        assert activity_id is not None, "scenario emails lie before now by construction"


def _primary_goes_silent(
    log: ActivityLog,
    seller: Person,
    colleague: Person,
    primary: Person,
    secondary: Person,
    deal: Regarding,
) -> None:
    relationship(
        log,
        seller,
        primary,
        start=log.now - YEAR,
        end=log.now - timedelta(days=55),
        rhythm=HEALTHY,
        circle=Circle(colleagues=(colleague,), regarding=deal),
    )
    meeting(
        log,
        seller,
        [(primary, "accepted"), (secondary, "accepted")],
        _day(log, 45),
        minutes=90,
        optional=((colleague, "accepted"),),
        regarding=deal,
    )
    phone_call(log, seller, primary, _day(log, 41), outbound=True, minutes=25, regarding=deal)
    pricing = record_id("conversation", "strategic-pricing")
    last_reply = log.now - SILENT_FOR
    sent = [
        (last_reply - timedelta(days=2), True),
        (last_reply - timedelta(days=2) + timedelta(hours=3), False),
        (last_reply - timedelta(hours=20), True),
        (last_reply, False),
        # Three follow-ups in the same thread that nobody answers.
        (_day(log, 30), True),
        (_day(log, 19), True),
        (_day(log, 8), True),
    ]
    _thread(log, seller, primary, pricing, deal, sent)
    meeting(
        log,
        seller,
        [(primary, "declined"), (secondary, "accepted")],
        _day(log, 24),
        minutes=60,
        regarding=deal,
    )
    meeting(
        log,
        seller,
        [(primary, "none"), (secondary, "accepted")],
        _day(log, 10),
        minutes=45,
        optional=((colleague, "accepted"),),
        regarding=deal,
    )


def _secondary_stays_engaged(
    log: ActivityLog, seller: Person, colleague: Person, secondary: Person, deal: Regarding
) -> None:
    relationship(
        log,
        seller,
        secondary,
        start=log.now - YEAR,
        end=log.now - timedelta(days=2),
        rhythm=HEALTHY,
        circle=Circle(colleagues=(colleague,), regarding=deal),
    )
    for days_ago, outbound, minutes in ((13, True, 20), (6, False, 15), (3, True, 30)):
        phone_call(
            log,
            seller,
            secondary,
            _day(log, days_ago),
            outbound=outbound,
            minutes=minutes,
            regarding=deal,
        )
    thread = record_id("conversation", "strategic-legal")
    sent = _day(log, 4)
    replies = ((0, True), (1.5, False), (3, True), (4, False))
    _thread(
        log, seller, secondary, thread, deal, ((sent + timedelta(hours=h), o) for h, o in replies)
    )
    upcoming = at_working_hours(log.now + timedelta(days=6), log.rng)
    meeting(
        log,
        seller,
        [(secondary, "accepted")],
        upcoming,
        minutes=60,
        optional=((colleague, "accepted"),),
        status="open",
        regarding=deal,
    )


def strategic_deal(
    log: ActivityLog,
    *,
    seller: Person,
    colleague: Person,
    primary: Person,
    secondary: Person,
    opportunity_id: str,
) -> None:
    deal: Regarding = ("opportunity", opportunity_id)
    _primary_goes_silent(log, seller, colleague, primary, secondary, deal)
    _secondary_stays_engaged(log, seller, colleague, secondary, deal)
