"""Who is waiting on whom, for every record of a group at once: our emails left
unanswered, meetings skipped, their emails awaiting our reply.

explain.py finds these in each record's own history; here masks over the
group's arrays find the few records they can apply to, so the reasons
(reasons.py) and the roll-ups' silences (rollups.py) run Python only for
those, over the entries already kept.
"""

from __future__ import annotations

import numpy as np

from scoring.columnar.by_record import run_starts
from scoring.columnar.columns import (
    RESPONSE_CODES,
    Bools,
    Floats,
    InteractionColumns,
    Ints,
)
from scoring.columnar.party_tables import SetTables
from scoring.columnar.tally import BookTally
from scoring.columnar.visits import contains, expand
from scoring.explain import AWAITING_REPLY_DAYS, LAST_INVITATIONS, UNANSWERED_AFTER_HOURS
from scoring.model import Response
from scoring.prepared import DAY_SECONDS, EMAILS_RECEIVED, TASKS
from scoring.threads import HOUR_SECONDS

_DECLINED = RESPONSE_CODES[Response.DECLINED]
_NO_ANSWER = RESPONSE_CODES[Response.NONE]


def due_ts(now_ts: float) -> float:
    """An email sent before this has waited long enough to be "unanswered"."""
    return now_ts - UNANSWERED_AFTER_HOURS * HOUR_SECONDS


def _starts(record: Ints, count: int) -> list[int]:
    """Where each record's entries start in `record` (sorted), and where the last ends."""
    starts: list[int] = np.searchsorted(record, np.arange(count + 1)).tolist()
    return starts


class Unanswered:
    """Our turns each record's customer left unanswered since they last took part
    (explain.unanswered_turns): when each started and its emails; and who waits on
    them (`waiting`).
    `silent_after`: by record, when the customer last took part (-inf: never)."""

    def __init__(
        self,
        book: BookTally,
        columns: InteractionColumns,
        tables: SetTables,
        silent_after: Floats,
        now_ts: float,
    ) -> None:
        started = book.open_started
        kept = (silent_after[book.open_record] < started) & (started <= due_ts(now_ts))
        self._from = _starts(book.open_record[kept], book.records)
        self.records = set(book.open_record[kept].tolist())
        self.started: list[float] = started[kept].tolist()
        self.messages: list[int] = book.open_messages[kept].tolist()
        # By record: their emails in those turns and when the first began (NaN: none),
        # what a roll-up reads of a person (rollups.People.silence).
        record = book.open_record[kept]
        self.total: Ints = np.bincount(
            record, weights=book.open_messages[kept], minlength=book.records
        ).astype(np.int64)
        since = np.full(book.records, np.inf)
        np.minimum.at(since, record, started[kept])
        self.since: Floats = np.where(since < np.inf, since, np.nan)
        self.recipients = _Recipients(book, columns, tables, np.flatnonzero(kept))

    def of(self, index: int) -> range:
        """The record's turns (indexes into started, messages), oldest conversation
        first."""
        return range(self._from[index], self._from[index + 1])


class _Recipients:
    """Who waits on the turns at `turns` (explain._turn_people: the opener's external
    people among the record's people, else all of them, each once), one entry per
    (record, person): the emails of their turns and when the first began."""

    def __init__(
        self, book: BookTally, columns: InteractionColumns, tables: SetTables, turns: Ints
    ) -> None:
        visits = book.visits
        people_count = max(visits.people_count, 1)
        sets = tables.of(columns.party_set[visits.position[book.open_opener[turns]]])
        owner, offset = expand(tables.ext_ptr[sets + 1] - tables.ext_ptr[sets])
        person = tables.ext_person[tables.ext_ptr[sets[owner]] + offset]
        key = book.open_record[turns][owner] * people_count + person
        among = contains(visits.members, key)
        any_among = np.bincount(owner[among], minlength=len(turns)) > 0
        waits = among | ~any_among[owner]
        key, turn = key[waits], turns[owner[waits]]
        order = np.argsort(key, kind="stable")
        key, turn = key[order], turn[order]
        first = run_starts(key)
        entry = np.cumsum(first) - 1
        starts = np.flatnonzero(first)
        record, entry_person = np.divmod(key[starts], people_count)
        self._from = _starts(record, book.records)
        self.person: list[int] = entry_person.tolist()
        # Integer sums (exact in any order) and minimums.
        self.messages: list[int] = (
            np.bincount(entry, weights=book.open_messages[turn], minlength=len(starts))
            .astype(np.int64)
            .tolist()
        )
        since = book.open_started[turn]
        self.since: list[float] = np.minimum.reduceat(since, starts).tolist() if len(starts) else []

    def of(self, index: int) -> range:
        """The record's entries (indexes into person, messages, since)."""
        return range(self._from[index], self._from[index + 1])


class Skipped:
    """Our meeting invitations each record's people declined or left unanswered,
    among the last LAST_INVITATIONS of each person (explain.skipped_meetings) and
    among the record's own last ones (rollup.Silence)."""

    def __init__(self, book: BookTally, people_count: int) -> None:
        record, person = book.invitation_record, book.invitation_person
        response = book.invitation_response
        skipped = (response == _DECLINED) | (response == _NO_ANSWER)
        # By (record, person), each person's answers in the pass's order.
        order = np.argsort(record * people_count + person, kind="stable")
        key = (record * people_count + person)[order]
        last = _last_few(key)
        group = np.cumsum(run_starts(key)) - 1
        flagged = np.bincount(group[last & skipped[order]], minlength=len(key)) > 0
        kept = last & flagged[group]
        # One entry per (record, person) kept: their last answers' counts.
        kept_key, kept_response = key[kept], response[order[kept]]
        first = run_starts(kept_key)
        entry = np.cumsum(first) - 1
        entry_record, entry_person = np.divmod(kept_key[first], max(people_count, 1))
        self._from = _starts(entry_record, book.records)
        self.records = set(entry_record.tolist())
        self.person: list[int] = entry_person.tolist()
        self.declined: list[int] = np.bincount(
            entry[kept_response == _DECLINED], minlength=len(entry_person)
        ).tolist()
        self.unanswered: list[int] = np.bincount(
            entry[kept_response == _NO_ANSWER], minlength=len(entry_person)
        ).tolist()
        self.invited: list[int] = np.bincount(entry, minlength=len(entry_person)).tolist()
        # The record's own last few, whoever answered (a person's silence).
        own_last = _last_few(record)
        self.skipped_of_last_by_record: Ints = np.bincount(
            record[own_last & skipped], minlength=book.records
        )
        self.invited_of_last_by_record: Ints = np.bincount(record[own_last], minlength=book.records)
        self.skipped_of_last: list[int] = self.skipped_of_last_by_record.tolist()
        self.invited_of_last: list[int] = self.invited_of_last_by_record.tolist()

    def of(self, index: int) -> range:
        """The record's people who skipped one of their last meetings (indexes into
        person, declined, unanswered, invited: of those last ones)."""
        return range(self._from[index], self._from[index + 1])


def _last_few(key: Ints) -> Bools:
    """Entries among the last LAST_INVITATIONS of their run of equal keys (`key` sorted)."""
    ends = np.searchsorted(key, key, side="right")
    found: Bools = (ends - np.arange(len(key))) <= LAST_INVITATIONS
    return found


class Awaiting:
    """Emails each record's people wrote that still await our reply
    (explain._awaiting_our_reply), for every record at once.

    explain.py walks back through a record's history from now to
    AWAITING_REPLY_DAYS ago, gathering the people we wrote to, called or met
    (`heard_from_us`); an email of one of the record's people counts when none
    of those came after it. Here that is, per (record, person), the last visit
    in the window that reached them, compared with each of their emails."""

    def __init__(
        self, book: BookTally, columns: InteractionColumns, tables: SetTables, now_ts: float
    ) -> None:
        visits, ts = book.visits, book.ts
        people_count = visits.people_count
        stale = now_ts - AWAITING_REPLY_DAYS * DAY_SECONDS
        # The scopes' visits only (the first ones): a reason, never a roll-up, reads these.
        scoped = visits.scoped
        slot, scoped_ts = book.slot[:scoped], ts[:scoped]
        window = (scoped_ts >= stale) & (scoped_ts <= now_ts) & ~book.planned[:scoped]
        # Their emails in the window, by one of the record's people.
        emails = np.flatnonzero(window & (slot == EMAILS_RECEIVED))
        author = tables.author[tables.of(columns.party_set[visits.position[emails]])]
        email_key = visits.record[emails] * people_count + author
        theirs = (author >= 0) & contains(visits.members, email_key)
        emails, email_key = emails[theirs], email_key[theirs]
        # Everyone we wrote to, called or met in the window, with the last visit that did.
        heard = np.flatnonzero(window & (slot != EMAILS_RECEIVED) & (slot != TASKS))
        sets = columns.party_set[visits.position[heard]]
        heard, sets = heard[sets >= 0], sets[sets >= 0]
        owner, offset = expand(tables.ext_ptr[sets + 1] - tables.ext_ptr[sets])
        heard_visit = heard[owner]
        heard_key = (
            visits.record[heard_visit] * people_count
            + tables.ext_person[tables.ext_ptr[sets[owner]] + offset]
        )
        order = np.lexsort((heard_visit, heard_key))
        heard_key, heard_visit = heard_key[order], heard_visit[order]
        latest = np.searchsorted(heard_key, email_key, side="right") - 1
        answered = latest >= 0
        latest = latest[answered]
        answered[answered] = (heard_key[latest] == email_key[answered]) & (
            heard_visit[latest] > emails[answered]
        )
        waiting = ~answered & (ts[emails] <= due_ts(now_ts))
        # One entry per (record, person): their emails and the oldest one's time.
        by_person = np.argsort(email_key[waiting], kind="stable")  # then by time
        emails, email_key = emails[waiting][by_person], email_key[waiting][by_person]
        first = run_starts(email_key)
        group = np.cumsum(first) - 1
        record, person = np.divmod(email_key[first], people_count)
        self._from = _starts(record, book.records)
        self.person: list[int] = person.tolist()
        self.emails: list[int] = np.bincount(group).tolist() if len(group) else []
        self.since: list[float] = ts[emails[first]].tolist()
        self.records = set(record.tolist())

    def of(self, index: int) -> range:
        """The record's people with emails awaiting our reply (indexes into person,
        emails, since)."""
        return range(self._from[index], self._from[index + 1])
