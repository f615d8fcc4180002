"""One-way tokens that stand in for an erased subject's identifiers.

After an erasure the audit log must still show that something happened to
someone, without saying who. An identifier is replaced by
`hmac-sha256:<hex>`: HMAC-SHA256 keyed with a random per-store salt, over the
trimmed, lower-cased identifier.

Why salted: email addresses and names are guessable (first.last@company), so
a plain SHA-256 of one can be reversed by hashing a list of candidates, and
the same person would carry the same token in every Rapport installation. With
a per-store salt, a guess can only be tested by someone who can read this
store's `ri_settings`, which is exactly the compliance officer who may need to
confirm "was this person erased?" by recomputing the token; tokens from two
stores cannot be joined.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storage.rapport_tables import RiSetting
from storage.types import core_table

SALT_KEY = "compliance.hash_salt"
TOKEN_PREFIX = "hmac-sha256:"
SETTINGS = core_table(RiSetting)


class SubjectHasher:
    def __init__(self, salt: bytes) -> None:
        self._salt = salt

    def token(self, identifier: str) -> str:
        digest = hmac.new(self._salt, identifier.strip().lower().encode(), hashlib.sha256)
        return TOKEN_PREFIX + digest.hexdigest()


def store_hasher(*, session: Session, now: datetime) -> SubjectHasher:
    """The store's hasher; the salt is created on first use, in the caller's transaction."""
    salt = _stored_salt(session)
    if salt is None:
        _insert_if_absent(session, secrets.token_hex(32), now)
        # Re-read: a concurrent first use may have won the insert, and its salt is the one.
        salt = _stored_salt(session)
        assert salt is not None
    return SubjectHasher(salt)


def _stored_salt(session: Session) -> bytes | None:
    query = sa.select(SETTINGS.c.value).where(SETTINGS.c.key == SALT_KEY)
    value = session.execute(query).scalar()
    return bytes.fromhex(value) if isinstance(value, str) else None


def _insert_if_absent(session: Session, salt_hex: str, now: datetime) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(SETTINGS).values(key=SALT_KEY, value=salt_hex, updated_at=now)
    session.execute(statement.on_conflict_do_nothing(index_elements=["key"]))
