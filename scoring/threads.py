"""Replies, read from the order of emails within a conversation.

Within one conversation, sorted by time, the emails fall into turns: runs of
messages from the same side. A message whose direction differs from the
previous one is a reply by its side; it answers every message of the other
side's turn, and its first-response time is the gap to the first message of
that turn (the one that waited longest).

Emails without a conversation id cannot be placed in a turn: they count as
sent/received but not for replies or response rates, and the record's KPIs are
marked "partial".

The record's pass (tally.Tally.add) updates the open turn of each
conversation itself, because it does so for every email of every record;
`Threads.reply` closes a turn when the other side answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

# Credit each of our emails earns in the engagement factor (time-decayed and
# influence-weighted, like everything in it):
# - answered: REPLY_CREDIT_FLOOR plus the rest scaled by speed, which halves
#   every REPLY_SPEED_HALF_LIFE_HOURS (instant 1.0, a day 0.88, a week 0.64):
#   being answered at all is most of the signal;
# - not answered, but the customer took part afterwards (a reply elsewhere, a
#   call, a meeting): FOLLOWED_BY_CONTACT_CREDIT. Such an email was most often
#   a closing "thanks" that needed no answer;
# - not answered, and nothing from the customer since: 0. This is silence.
# FOLLOWED_BY_CONTACT_CREDIT must not exceed REPLY_CREDIT_FLOOR, so that a
# reply, however slow, never counts less than no reply.
REPLY_SPEED_HALF_LIFE_HOURS = 48.0
REPLY_CREDIT_FLOOR = 0.6
FOLLOWED_BY_CONTACT_CREDIT = 0.6

HOUR_SECONDS = 3600.0

# An open turn is a small list, not an object: one is created per
# conversation per record, and a list literal costs a fraction of an
# instance. Fields, by index:
TURN_INBOUND, TURN_STARTED_TS, TURN_MESSAGES, TURN_WEIGHT, TURN_OPENER = range(5)
OpenTurn: TypeAlias = list[Any]  # [inbound, started_ts, messages, weight, first message]


def reply_credit(hours: float) -> float:
    speed = 0.5 ** (hours / REPLY_SPEED_HALF_LIFE_HOURS)
    return float(REPLY_CREDIT_FLOOR + (1.0 - REPLY_CREDIT_FLOOR) * speed)


@dataclass(slots=True)
class Threads:
    """Reply statistics of one record, one email at a time, oldest first."""

    turns: dict[str, OpenTurn] = field(default_factory=dict)
    threaded: list[int] = field(default_factory=lambda: [0, 0])  # ours, theirs (by `inbound`)
    # Their threaded emails written by someone who is not one of the record's
    # people (the record was only copied): not replies of the record's people.
    in_the_loop: int = 0
    replies_by_us: int = 0
    replies_by_them: int = 0
    answered_by_us: int = 0  # their emails that got a reply from us
    answered_by_them: int = 0
    response_hours_by_us: float = 0.0
    response_hours_by_them: float = 0.0
    # For the engagement factor (see the credits above): the weight of all
    # our threaded emails, of those answered, the credit the answered ones
    # earned, and the weight of those sent since the customer last took part
    # (the record's pass resets it whenever the customer does).
    asked_weight: float = 0.0
    replied_weight: float = 0.0
    reply_credit_weight: float = 0.0
    silent_weight: float = 0.0

    @property
    def answered_weight(self) -> float:
        followed_by_contact = self.asked_weight - self.replied_weight - self.silent_weight
        return self.reply_credit_weight + FOLLOWED_BY_CONTACT_CREDIT * max(0.0, followed_by_contact)

    def reply(self, turn: OpenTurn, inbound: bool, ts: float, weight: float, row: object) -> None:
        """The other side answered `turn`; the reply opens the next turn."""
        hours = (ts - turn[TURN_STARTED_TS]) / HOUR_SECONDS
        if inbound:
            self.replies_by_them += 1
            self.answered_by_them += turn[TURN_MESSAGES]
            self.response_hours_by_them += hours
            self.replied_weight += turn[TURN_WEIGHT]
            self.reply_credit_weight += turn[TURN_WEIGHT] * reply_credit(hours)
        else:
            self.replies_by_us += 1
            self.answered_by_us += turn[TURN_MESSAGES]
            self.response_hours_by_us += hours
        turn[:] = (inbound, ts, 1, weight, row)
