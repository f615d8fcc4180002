"""Turns and replies of a group's emails (scoring.threads), for every record at once.

A turn is a run of emails from one side within one (record, conversation);
a turn answered by the other side's next turn is a reply, credited by how
fast it came. The emails are sorted by (record, conversation) with one stable
sort of one integer key, which keeps each conversation's emails in time order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.columnar.by_record import run_starts, weighted
from scoring.columnar.columns import Bools, Floats, Ints
from scoring.threads import REPLY_CREDIT_FLOOR, REPLY_SPEED_HALF_LIFE_HOURS


@dataclass
class Turns:
    """A group's threaded emails, their turns and replies."""

    # The threaded emails held with the record's people, by (record, conversation),
    # then time; the scopes' (visits before `scoped`) first.
    email: Ints  # visit index
    inbound: Bools
    scoped: int  # how many of them are the scopes'
    # Per turn, in the emails' order.
    messages: Ints
    opener: Ints  # visit index of its first email
    started: Floats
    record: Ints
    # Per reply (an answered turn's next turn), in the order the pass meets them:
    # by record, then time.
    answered: Ints  # the turn it answers
    reply_record: Ints
    reply_ts: Floats
    hours: Floats
    by_them: Bools  # our turn answered
    turn_weight: Floats  # the answered turn's weight
    credit: Floats
    # Our turns still open at now, by record, in the order their conversation first
    # appeared.
    open_ours: Ints


def email_turns(
    threaded: Ints,
    record: Ints,
    conversation: Ints,
    conversations: int,
    inbound: Bools,
    ts: Floats,
    weight: Floats,
    scoped: int,
) -> Turns:
    """The turns of the emails at `threaded` (visit indexes, ascending): each visit's
    `record`, `conversation` (of `conversations`), `inbound`, `ts` and `weight`."""
    key = record[threaded] * (conversations + 1) + conversation[threaded]
    order = np.argsort(key, kind="stable")
    email = threaded[order]
    group = key[order]
    email_inbound = inbound[email]
    del order, key
    new_group = run_starts(group)
    new_turn = new_group.copy()
    new_turn[1:] |= email_inbound[1:] != email_inbound[:-1]
    turn_of = np.cumsum(new_turn) - 1
    starts = np.flatnonzero(new_turn)
    turn_weight = weighted(turn_of, weight[email], len(starts))
    messages = np.bincount(turn_of)
    opener = email[starts]
    started = ts[opener]
    turn_inbound = email_inbound[starts]
    turn_record = record[opener]
    next_is_same_group = ~new_group[starts[1:]]
    answered = np.flatnonzero(next_is_same_group)
    reply_visit = opener[answered + 1]
    # Replies in the order the pass meets them: by record, then time.
    reply_order = np.argsort(reply_visit, kind="stable")
    answered, reply_visit = answered[reply_order], reply_visit[reply_order]
    reply_ts = ts[reply_visit]
    hours = (reply_ts - started[answered]) / 3600.0
    answered_weight = turn_weight[answered]
    speed = 0.5 ** (hours / REPLY_SPEED_HALF_LIFE_HOURS)
    last_turn = np.ones(len(starts), dtype=np.bool_)
    last_turn[:-1] = ~next_is_same_group
    open_ours = np.flatnonzero(last_turn & ~turn_inbound)
    return Turns(
        email=email,
        inbound=email_inbound,
        # The emails are sorted by record, and the scopes' records come first.
        scoped=int(np.count_nonzero(email < scoped)),
        messages=messages,
        opener=opener,
        started=started,
        record=turn_record,
        answered=answered,
        reply_record=record[reply_visit],
        reply_ts=reply_ts,
        hours=hours,
        by_them=~turn_inbound[answered],
        turn_weight=answered_weight,
        credit=answered_weight * (REPLY_CREDIT_FLOOR + (1.0 - REPLY_CREDIT_FLOOR) * speed),
        open_ours=open_ours[np.argsort(turn_record[open_ours], kind="stable")],
    )
