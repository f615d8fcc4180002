"""Digests of what each CRM activity's derivation reads, so unchanged ones are skipped.

An activity's interaction is a pure function of its row, its party rows,
whom those parties match in the directory (erased subjects match nobody),
whether its "regarding" record was erased, which of our mailboxes Exchange
covers and since when, and which side of the retention cutoff it falls on
(storage.crm_activity_rules, storage.crm_ingest), and, for a time after
the run's now, which of the rules' bounds it passes. The digest covers exactly
those inputs, so an equal digest means an equal outcome and the activity
need not be derived again: a steady tick over a million activities reads
them and hashes, instead of rebuilding and comparing every interaction.

Bump RULES_VERSION whenever the derivation rules change: every digest moves
and the next run derives everything once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlmodel import Session

from storage.bulk import copy_text, copy_written_lines, insert_rows
from storage.crm_activity_rules import TimeWindow
from storage.directory import Directory
from storage.engine import is_postgres
from storage.interaction_store import chunks, key_chunks, keyed_rows, one_of
from storage.rapport_tables import CrmActivityDigest
from storage.raw_rows import raw_rows
from storage.types import core_table

RULES_VERSION = 4  # 2: bounds on times, durations and engagement counts; 3: MD5 of a text;
# 4: Exchange's coverage enters every digest as its own MD5, not as its text (below)
# (A person twice in one role made one party row without a bump: before, such an activity
# failed the whole run, so no stored digest or interaction can hold the old result.)
DIGEST = core_table(CrmActivityDigest)
COLUMNS = ("activity_id", "digest", "outcome", "interaction_key")
_COLUMNS = [DIGEST.c[name] for name in COLUMNS]
_encode = msgspec.msgpack.Encoder().encode


class ActivityDigest(NamedTuple):
    """One row of crm_activity_digest."""

    activity_id: str
    digest: str
    outcome: str
    interaction_key: str | None


class Digester:
    """`digest(activity, parties)` for one run's directory, coverage and cutoff.

    The digest is the MD5 of a canonical text of those inputs (`digest_text`),
    which SQL can build too: a first ingest on PostgreSQL digests a million
    activities in one statement (storage.crm_bulk_ingest). Only equality
    matters: a digest that differed between the two ways would cost the
    activity one more derivation, never a wrong interaction.
    """

    def __init__(
        self,
        directory: Directory,
        covered: Mapping[str, datetime],
        not_before: datetime | None,
        window: TimeWindow,
    ) -> None:
        self._directory = directory
        self._not_before = not_before
        self._window = window
        self._soon = window.completed_until
        self._context = digest_context(covered)

    def digest(self, activity: Any, parties: Iterable[Any]) -> str:
        """Parties in any order: they are sorted by their row id."""
        match_record = self._directory.match_record
        match_address = self._directory.match_address
        pieces = [self._context, "".join(map(digest_field, activity))]
        for party in sorted(parties, key=_party_id):
            pieces.append("p")
            pieces.extend(map(digest_field, party))
            pieces.append(_pair(match_record(party.record_type, party.record_id)))
            pieces.append(_pair(match_address(party.address)))
        occurred_at = activity.start_at or activity.end_at
        not_before, soon = self._not_before, self._soon
        beyond = not_before is not None and occurred_at is not None and occurred_at < not_before
        # Inline for what has happened (nearly every row): a million per run.
        ahead = (
            0
            if soon is None or occurred_at is None or occurred_at <= soon
            else self._ahead(occurred_at)
        )
        erased = self._directory.record_erased(activity.regarding_type, activity.regarding_id)
        pieces.append(
            f"o{_pair(match_record('system_user', activity.owner_id))}"
            f"e{int(erased)}r{int(beyond)}a{ahead}"
        )
        return hashlib.md5("".join(pieces).encode(), usedforsecurity=False).hexdigest()

    def _ahead(self, occurred_at: datetime) -> int:
        """1 for a time ahead of the run's now, 2 beyond the planning window (0: neither).

        The rules judge a time after now by these bounds, which move with now.
        """
        latest = self._window.latest
        return 2 if latest is not None and occurred_at > latest else 1


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def digest_field(value: Any) -> str:
    """One value in the digest's canonical text: tagged, text length-prefixed, so that
    no two different rows read alike (storage.crm_bulk_ingest writes the same in SQL)."""
    # The exact types a driver hands back first (30 values an activity, a million a full
    # pass); a subclass, a bool or anything else takes the general way below.
    if value is None:
        return "~"
    kind = type(value)
    if kind is str:
        return f"s{len(value)}:{value}"
    if kind is datetime:
        return f"t{(value - EPOCH) // MICROSECOND}"
    if kind is int:
        return f"i{value}"
    return _general_field(value)


def _general_field(value: Any) -> str:
    """A value of no exact type digest_field takes first (None is one of those)."""
    if isinstance(value, str):
        return f"s{len(value)}:{value}"
    if isinstance(value, bool):
        return f"b{int(value)}"
    if isinstance(value, int):
        return f"i{value}"
    if isinstance(value, datetime):
        return f"t{(value - EPOCH) // MICROSECOND}"
    text = repr(value)  # what a CRM may leave in a SQLite column of another type
    return f"x{len(text)}:{text}"


def _pair(record: tuple[str, str] | None) -> str:
    return "~~" if record is None else digest_field(record[0]) + digest_field(record[1])


def _party_id(party: Any) -> Any:
    return party[0]


def digest_context(covered: Mapping[str, datetime]) -> str:
    """What every digest of a pass starts with: the rules' version, Exchange's coverage.

    The coverage goes in as the MD5 of its text (~60 bytes a mailbox): copied as
    text into every activity's, 500 covered mailboxes made each digest cost
    ~120 us in Python and ~30 us in SQL instead of ~1.
    """
    coverage = "".join(
        digest_field(user) + digest_field(since) for user, since in sorted(covered.items())
    )
    return f"v{RULES_VERSION}c" + hashlib.md5(coverage.encode(), usedforsecurity=False).hexdigest()


def context_fingerprint(
    covered: Mapping[str, datetime], not_before: datetime | None, window: TimeWindow
) -> str:
    """What every digest of a pass shares: the rules, Exchange's coverage, which bounds apply.

    Equal between two passes, an activity's digest can move only with its own
    rows, its parties' matches, or its time crossing a bound
    (storage.crm_ingest reads exactly those).
    """
    coverage = sorted((user, since.isoformat()) for user, since in covered.items())
    bounds = (not_before is None, window.completed_until is None, window.latest is None)
    return hashlib.blake2b(_encode((RULES_VERSION, coverage, bounds)), digest_size=16).hexdigest()


def load_digests(
    *, session: Session, ids: Iterable[str] | None = None
) -> dict[str, ActivityDigest]:
    """Every digest, or those of the activity ids `ids`."""
    if ids is not None:
        return _keyed(session, DIGEST.c.activity_id, ids)
    query = f"SELECT {', '.join(COLUMNS)} FROM {DIGEST.name}"
    new = tuple.__new__  # skips the NamedTuple's Python-level __new__: a million rows
    return {row[0]: new(ActivityDigest, row) for row in raw_rows(session, query)}


def digests_of_keys(*, session: Session, keys: Iterable[str]) -> dict[str, ActivityDigest]:
    """The digests of the activities that became one of the interaction keys `keys`."""
    return _keyed(session, DIGEST.c.interaction_key, keys)


def _keyed(
    session: Session, column: sa.Column[str], values: Iterable[str]
) -> dict[str, ActivityDigest]:
    """The digests whose `column` is one of `values`: on PostgreSQL one array parameter per
    batch, looked up key by key (storage.interaction_store.keyed_rows)."""
    found: dict[str, ActivityDigest] = {}
    # In order, the probes walk the index in order: fewer pages read from disk.
    for batch in key_chunks(is_postgres(session), sorted(values)):
        rows = session.execute(keyed_rows(session, _COLUMNS, column, batch)).all()
        new = tuple.__new__  # skips the NamedTuple's Python-level __new__
        found.update((row[0], new(ActivityDigest, row)) for row in rows)
    return found


def digest_count(*, session: Session) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(DIGEST)) or 0)


def outcome_counts(*, session: Session) -> dict[str, int]:
    """How many activities had each outcome when last derived."""
    query = sa.select(DIGEST.c.outcome, sa.func.count()).group_by(DIGEST.c.outcome)
    return {outcome: int(count) for outcome, count in session.execute(query)}


def replace_digests(
    *,
    session: Session,
    rows: Iterable[ActivityDigest],
    forget: Iterable[str] | None,
) -> None:
    """Write `rows`; first drop the rows of the activity ids in `forget`, or all if None."""
    if forget is None:
        session.execute(sa.delete(DIGEST))
    else:
        for batch in chunks(forget):
            session.execute(sa.delete(DIGEST).where(DIGEST.c.activity_id.in_(batch)))
    if is_postgres(session):
        # A first run writes a row per activity: ready-made COPY lines, a million of them.
        copy_written_lines(session, DIGEST, COLUMNS, map(_copy_line, rows))
    else:
        insert_rows(session, DIGEST, COLUMNS, rows)


def write_digests(
    *, session: Session, rows: Sequence[ActivityDigest], forget: Iterable[str]
) -> None:
    """Write `rows` over the digests of their activities (an upsert: in place where one
    was kept), then drop the digests of the activity ids in `forget` that got none.

    For a pass that derived few activities: at 1M, dropping 10,000 digests by id and
    writing them again cost a delete and an insert of every row and index entry.
    """
    written = {row.activity_id for row in rows}
    forget_digests(session=session, activity_ids=[i for i in forget if i not in written])
    if not rows:
        return
    if not is_postgres(session):
        insert = sqlite.insert(DIGEST)
        kept = {column: insert.excluded[column] for column in COLUMNS[1:]}
        upsert = insert.on_conflict_do_update(index_elements=[COLUMNS[0]], set_=kept)
        session.execute(upsert, [row._asdict() for row in rows])
        return
    for batch in chunks(rows, UPSERT_CHUNK):
        session.execute(POSTGRES_UPSERT, {"rows": msgspec.json.encode(batch).decode()})


UPSERT_CHUNK = 100_000  # digests per JSON parameter
POSTGRES_UPSERT = sa.text(
    f"INSERT INTO {DIGEST.name} ({', '.join(COLUMNS)})"
    " SELECT s.row ->> 0, s.row ->> 1, s.row ->> 2, s.row ->> 3"
    " FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS s(row)"
    " ON CONFLICT (activity_id) DO UPDATE SET digest = excluded.digest,"
    " outcome = excluded.outcome, interaction_key = excluded.interaction_key"
)


def forget_digests(*, session: Session, activity_ids: Sequence[str]) -> None:
    """The digests of these activities dropped: one array parameter per batch on PostgreSQL
    (a list of 500 per statement cost 20 statements for 10,000 at 1M)."""
    postgres = is_postgres(session)
    for batch in key_chunks(postgres, activity_ids):
        session.execute(sa.delete(DIGEST).where(one_of(postgres, DIGEST.c.activity_id, batch)))


def _copy_line(row: ActivityDigest) -> str:
    key = "\\N" if row.interaction_key is None else copy_text(row.interaction_key)
    return f"{copy_text(row.activity_id)}\t{row.digest}\t{row.outcome}\t{key}\n"
