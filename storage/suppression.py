"""The suppression list: one-way tokens of erased subjects, and the questions asked of it.

An erasure removes what Rapport derived about a person, but the CRM may keep
the record and its activities (and mailboxes keep their mail), so the next
run would derive it all again. `rapport erase` therefore writes tokens of
the subject's addresses and record references (`contact:ID`) into
`erased_subject`; matching, ingestion and
scoring ask this module whether an address or a record is erased and treat
it as unknown. Only tokens are kept, so the list itself names nobody.

A token is `hmac-sha256:<hex>`: HMAC-SHA256 keyed with a random per-store
salt, over the trimmed, lower-cased identifier. Why salted: addresses and
names are guessable (first.last@company), so a plain SHA-256 of one can be
reversed by hashing a list of candidates, and the same person would carry the
same token in every installation. With a per-store salt, a guess can only be
tested by someone who can read this store's `ri_settings` (the compliance
officer confirming "was this person erased?"); tokens from two stores cannot
be joined. The salt lives here, with storage, because matching needs it as
much as compliance does.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storage.crm_tables import Account, Contact, Lead, Opportunity, SystemUser
from storage.engine import is_postgres
from storage.interaction_locks import become_sqlite_writer
from storage.rapport_tables import (
    ErasedSubject,
    HealthSnapshot,
    Introducer,
    RelationshipKpi,
    RiSetting,
)
from storage.types import core_table
from storage.writeback import RECORD_TABLES as SCORED_TABLES
from storage.writeback import clear_health

SALT_KEY = "compliance.hash_salt"
TOKEN_PREFIX = "hmac-sha256:"
SETTINGS = core_table(RiSetting)
ERASED = core_table(ErasedSubject)
RecordKey = tuple[str, str]  # (record_type, record_id)
# What scoring derives per record, keyed by (record_type, record_id).
DERIVED_TABLES = tuple(core_table(m) for m in (RelationshipKpi, HealthSnapshot, Introducer))

# Where each kind of record keeps its addresses; opportunities and accounts have none.
ADDRESS_COLUMNS: dict[str, tuple[str, ...]] = {
    "system_user": ("email",),
    "contact": ("email", "email2", "email3"),
    "lead": ("email",),
    "opportunity": (),
    "account": (),
}
RECORD_TABLES: dict[str, sa.Table] = {
    "system_user": core_table(SystemUser),
    "contact": core_table(Contact),
    "lead": core_table(Lead),
    "opportunity": core_table(Opportunity),
    "account": core_table(Account),
}


class SubjectHasher:
    def __init__(self, salt: bytes) -> None:
        # Keyed once: copying a keyed HMAC is cheaper than re-keying per identifier,
        # and matching asks about every record of the CRM.
        self._keyed = hmac.new(salt, digestmod=hashlib.sha256)

    def token(self, identifier: str) -> str:
        digest = self._keyed.copy()
        digest.update(identifier.strip().lower().encode())
        return TOKEN_PREFIX + digest.hexdigest()


def record_reference(record_type: str, record_id: str) -> str:
    """How a record is named on the suppression list (before hashing)."""
    return f"{record_type}:{record_id}"


def store_hasher(*, session: Session, now: datetime) -> SubjectHasher:
    """The store's hasher; the salt is created on first use, in the caller's transaction."""
    salt = _stored_salt(session)
    if salt is None:
        _insert_if_absent(session, secrets.token_hex(32), now)
        # Re-read: a concurrent first use may have won the insert, and its salt is the one.
        salt = _stored_salt(session)
        assert salt is not None
    return SubjectHasher(salt)


def existing_hasher(*, session: Session) -> SubjectHasher | None:
    """The store's hasher if its salt exists; reading never creates it (dry runs, matching)."""
    salt = _stored_salt(session)
    return None if salt is None else SubjectHasher(salt)


def _stored_salt(session: Session) -> bytes | None:
    query = sa.select(SETTINGS.c.value).where(SETTINGS.c.key == SALT_KEY)
    value = session.execute(query).scalar()
    return bytes.fromhex(value) if isinstance(value, str) else None


def _insert_if_absent(session: Session, salt_hex: str, now: datetime) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(SETTINGS).values(key=SALT_KEY, value=salt_hex, updated_at=now)
    session.execute(statement.on_conflict_do_nothing(index_elements=["key"]))


@dataclass(frozen=True)
class Suppression:
    """The erased tokens of one store, with the hasher that makes them comparable."""

    tokens: frozenset[str] = frozenset()
    hasher: SubjectHasher | None = field(default=None, compare=False)

    def __bool__(self) -> bool:
        return bool(self.tokens)

    def erased(self, identifier: str | None) -> bool:
        if not self.tokens or self.hasher is None or not identifier or not identifier.strip():
            return False
        return self.hasher.token(identifier) in self.tokens

    def address_erased(self, address: str | None) -> bool:
        return self.erased(address)

    def record_erased(self, record_type: str, record_id: str) -> bool:
        return self.erased(record_reference(record_type, record_id))

    def holds(self, record_type: str, record_id: str, addresses: Iterable[str | None]) -> bool:
        """A record is erased by its reference, or by carrying an erased address:
        an erased person who reappears on a new CRM record stays erased."""
        if not self.tokens:
            return False
        return self.record_erased(record_type, record_id) or any(
            self.address_erased(address) for address in addresses
        )


def load_suppression(*, session: Session) -> Suppression:
    """The suppression list; empty (and free to ask) when nobody was ever erased."""
    tokens = frozenset(session.scalars(sa.select(ERASED.c.token)))
    if not tokens:
        return Suppression()
    hasher = existing_hasher(session=session)
    # Tokens without a salt cannot be matched; that only happens if the salt was deleted,
    # which docs/compliance.md forbids. Fail loudly rather than let erased people back in.
    if hasher is None:
        raise RuntimeError(
            f"ri_settings {SALT_KEY!r} is missing but erased_subject holds tokens; "
            "restore the salt (see docs/compliance.md)"
        )
    return Suppression(tokens, hasher)


def erased_records(*, session: Session, suppression: Suppression) -> frozenset[RecordKey]:
    """The CRM's records that are erased, by reference or by one of their addresses."""
    if not suppression:
        return frozenset()
    found: set[RecordKey] = set()
    for record_type, table in RECORD_TABLES.items():
        columns = [table.c[name] for name in ADDRESS_COLUMNS[record_type]]
        for record_id, *addresses in session.execute(sa.select(table.c.id, *columns)):
            if suppression.holds(record_type, record_id, addresses):
                found.add((record_type, record_id))
    return frozenset(found)


def pending_tokens(
    *, session: Session, hasher: SubjectHasher, identifiers: Iterable[str]
) -> list[str]:
    """Tokens of these identifiers that are not on the list yet, sorted."""
    tokens = {hasher.token(i) for i in identifiers if i and i.strip()}
    listed = set(session.scalars(sa.select(ERASED.c.token).where(ERASED.c.token.in_(tokens))))
    return sorted(tokens - listed)


def suppress(*, session: Session, tokens: Iterable[str], at: datetime) -> int:
    """Put tokens on the list (a token already there keeps its first date). Returns how many."""
    rows = [{"token": token, "erased_at": at} for token in sorted(set(tokens))]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = session.execute(
        insert(ERASED).values(rows).on_conflict_do_nothing(index_elements=["token"])
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def release(*, session: Session, tokens: Iterable[str]) -> int:
    """Take tokens off the list: the subject came back with consent. Returns how many."""
    wanted = sorted(set(tokens))
    if not wanted:
        return 0
    result = session.execute(sa.delete(ERASED).where(ERASED.c.token.in_(wanted)))
    return int(result.rowcount)  # type: ignore[attr-defined]


# Erasures and the sweep that ends every run take this lock before anything else
# (compliance.late_writes explains why). PostgreSQL: a two-key advisory lock in a
# namespace of its own (storage.interaction_locks holds 0x5241-0x5242, leases the
# one-key space); SQLite: the database's single write lock.
SUPPRESSION_LOCK_NAMESPACE = 0x5253  # "RS"
SUPPRESSION_LOCK = sa.text("SELECT pg_advisory_xact_lock(:namespace, :lock)").bindparams(
    namespace=SUPPRESSION_LOCK_NAMESPACE, lock=1
)
# What the list held when a run started: (token, erased_at) pairs, so that a
# subject released and erased again during the run counts as new.
SuppressionMark = frozenset[tuple[str, datetime]]


def hold_suppression_lock(*, session: Session) -> None:
    """Hold the suppression list's lock until this transaction ends.

    Call it first in the transaction, before reading anything: under READ
    COMMITTED every later statement then sees what the previous holder
    committed, and on SQLite the transaction reads from the newest state.
    """
    if is_postgres(session):
        session.execute(SUPPRESSION_LOCK)
    else:
        # Waits (busy timeout) for the writer in flight, then keeps every other out.
        become_sqlite_writer(session)


def suppression_mark(*, session: Session) -> SuppressionMark:
    """The list as it stands, to compare with at the end of a run (`listed_since`)."""
    query = sa.select(ERASED.c.token, ERASED.c.erased_at)
    return frozenset((token, at) for token, at in session.execute(query))


def listed_since(*, session: Session, mark: SuppressionMark) -> Suppression:
    """The tokens listed since `mark` was taken (empty and free when there are none)."""
    query = sa.select(ERASED.c.token, ERASED.c.erased_at)
    tokens = frozenset(token for token, at in session.execute(query) if (token, at) not in mark)
    if not tokens:
        return Suppression()
    return replace(load_suppression(session=session), tokens=tokens)


def forget_late_health(*, session: Session) -> int:
    """Remove what a scoring run wrote for records erased while it ran.

    A run reads the CRM before it writes; an erase that commits in between
    cannot stop that run's writes for the subject. Run at the end of every
    run, this removes the subject's KPI row, history and introducers and
    clears its health fields again. (Other records' reasons that still name
    the subject are rewritten by the next run, which no longer sees them.)
    Free when nobody was ever erased. Returns how many records it cleaned.
    """
    erased = erased_records(session=session, suppression=load_suppression(session=session))
    cleaned = 0
    for record_type, record_id in sorted(erased):
        removed = 0
        for table in DERIVED_TABLES:
            removed += _rowcount(
                session.execute(
                    sa.delete(table).where(
                        table.c.record_type == record_type, table.c.record_id == record_id
                    )
                )
            )
        if record_type in SCORED_TABLES:
            removed += clear_health(
                session=session, record_type=record_type, record_id=record_id, written_only=True
            )
        cleaned += removed > 0
    return cleaned


def _rowcount(result: object) -> int:
    return int(result.rowcount)  # type: ignore[attr-defined]
