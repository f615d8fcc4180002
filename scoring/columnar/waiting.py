"""Who is waiting on whom, for every record of a group at once: our emails left
unanswered, meetings skipped, their emails awaiting our reply.

explain.py finds these in each record's own history; here masks over the
group's arrays find the few records they can apply to, so the reasons
(reasons.py) and the roll-ups' silences (rollups.py) run Python only for
those, over the entries already kept.
"""

from __future__ import annotations

import numpy as np

from scoring.columnar.columns import RESPONSE_CODES, RESPONSES, Bools, InteractionColumns, Ints
from scoring.columnar.tally import BookTally
from scoring.columnar.visits import SetTables, contains
from scoring.explain import AWAITING_REPLY_DAYS, LAST_INVITATIONS, UNANSWERED_AFTER_HOURS
from scoring.model import Party, RecordRef, Response
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


def _parties(columns: InteractionColumns, positions: Ints) -> list[tuple[Party, ...]]:
    """The external parties of the interactions at `positions`."""
    external = columns.sets.external
    return [external[code] if code >= 0 else () for code in columns.party_set[positions].tolist()]


class Unanswered:
    """Our turns each record's customer left unanswered since they last took part
    (explain.unanswered_turns): when each started, its emails, its opener's parties."""

    def __init__(
        self,
        book: BookTally,
        columns: InteractionColumns,
        last_engaged_ts: list[float | None],
        now_ts: float,
    ) -> None:
        silent_after = np.array(
            [float("-inf") if ts is None else ts for ts in last_engaged_ts], dtype=np.float64
        )
        started = book.open_started
        kept = (silent_after[book.open_record] < started) & (started <= due_ts(now_ts))
        self._from = _starts(book.open_record[kept], book.records)
        self.started: list[float] = started[kept].tolist()
        self.messages: list[int] = book.open_messages[kept].tolist()
        self.parties = _parties(columns, book.visits.position[book.open_opener[kept]])

    def of(self, index: int) -> range:
        """The record's turns (indexes into started, messages, parties), oldest
        conversation first."""
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
        group = np.cumsum(_firsts(key)) - 1
        flagged = np.bincount(group[last & skipped[order]], minlength=len(key)) > 0
        kept = order[last & flagged[group]]
        self._from = _starts(record[kept], book.records)
        self.person: list[int] = person[kept].tolist()
        self.response: list[Response | None] = [RESPONSES[c] for c in response[kept].tolist()]
        # The record's own last few, whoever answered (a person's silence).
        own_last = _last_few(record)
        self.skipped_of_last: list[int] = np.bincount(
            record[own_last & skipped], minlength=book.records
        ).tolist()
        self.invited_of_last: list[int] = np.bincount(
            record[own_last], minlength=book.records
        ).tolist()

    def answers(self, index: int, refs: list[RecordRef]) -> dict[RecordRef, list[Response]]:
        """person -> their last answers, for the record's people who skipped one."""
        found: dict[RecordRef, list[Response]] = {}
        for k in range(self._from[index], self._from[index + 1]):
            response = self.response[k]
            assert response is not None  # an invitation carries an answer
            found.setdefault(refs[self.person[k]], []).append(response)
        return found


def _firsts(key: Ints) -> Bools:
    """Where each run of equal keys starts."""
    first = np.ones(len(key), dtype=np.bool_)
    first[1:] = key[1:] != key[:-1]
    return first


def _last_few(key: Ints) -> Bools:
    """Entries among the last LAST_INVITATIONS of their run of equal keys (`key` sorted)."""
    ends = np.searchsorted(key, key, side="right")
    found: Bools = (ends - np.arange(len(key))) <= LAST_INVITATIONS
    return found


class Awaiting:
    """Records with an email one of their people wrote in the awaiting window
    (explain._awaiting_our_reply's candidates); `of` walks one record's history."""

    def __init__(
        self, book: BookTally, columns: InteractionColumns, tables: SetTables, now_ts: float
    ) -> None:
        self.book, self.columns, self.tables = book, columns, tables
        self.now_ts = now_ts
        self.due = due_ts(now_ts)
        self.stale = now_ts - AWAITING_REPLY_DAYS * DAY_SECONDS
        visits, ts = book.visits, book.ts
        maybe = np.flatnonzero(
            book.history & (book.slot == EMAILS_RECEIVED) & (ts >= self.stale) & (ts <= self.due)
        )
        self.candidates: set[int] = set()
        if len(maybe):
            author = tables.author[tables.of(columns.party_set[visits.position[maybe]])]
            record = visits.record[maybe]
            mine = (author >= 0) & contains(visits.members, record * visits.people_count + author)
            self.candidates = set(np.unique(record[mine]).tolist())
        self._from = _starts(visits.record, book.records)

    def of(
        self, index: int, people: frozenset[RecordRef], refs: list[RecordRef]
    ) -> dict[RecordRef, list[float]]:
        """person -> [their emails awaiting our reply, since when] (explain's walk back
        through the record's history, from now)."""
        if index not in self.candidates:
            return {}
        book, columns = self.book, self.columns
        start, end = self._from[index], self._from[index + 1]
        ts = book.ts[start:end].tolist()
        planned = book.planned[start:end].tolist()
        slot = book.slot[start:end].tolist()
        sets = columns.party_set[book.visits.position[start:end]]
        codes = sets.tolist()
        author_of = self.tables.author[self.tables.of(sets)].tolist()
        external = columns.sets.external
        heard_from_us: set[RecordRef] = set()
        waiting: dict[RecordRef, list[float]] = {}
        visit = end - start - 1
        while visit >= 0 and ts[visit] > self.now_ts:
            visit -= 1
        for current in range(visit, -1, -1):
            at = ts[current]
            if at < self.stale:
                break
            if planned[current]:
                continue
            kind = slot[current]
            if kind == EMAILS_RECEIVED:
                code = author_of[current]
                author = refs[code] if code >= 0 else None
                if author is None or author not in people or author in heard_from_us:
                    continue
                if at <= self.due:
                    entry = waiting.setdefault(author, [0, at])
                    entry[0] += 1
                    entry[1] = at
            elif kind != TASKS and codes[current] >= 0:
                heard_from_us.update(party.ref for party in external[codes[current]])
        return waiting
