"""Opaque but compact `$skiptoken` / `$deltatoken` values.

A token is a handful of integers (the round's change-log window and a
position) plus the `$select` the round started with, msgpack-encoded and
base64url'd, so tokens stay tiny however large the mailbox is.
"""

from __future__ import annotations

import base64
import hashlib

import msgspec


class TokenInvalid(ValueError):
    """The token cannot be decoded or belongs to another collection."""


class DeltaState(msgspec.Struct, array_like=True, frozen=True):
    collection: str  # short hash of the collection key
    epoch: int
    since: int | None  # None: initial round
    upto: int
    position: int
    select: str  # "" = default properties
    window: str = ""  # calendarView "start|end"


def collection_tag(key: str) -> str:
    return hashlib.blake2s(key.encode(), digest_size=6).hexdigest()


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(DeltaState)


def encode(state: DeltaState) -> str:
    return base64.urlsafe_b64encode(_encoder.encode(state)).decode("ascii").rstrip("=")


def decode(token: str, collection_key: str) -> DeltaState:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        state = _decoder.decode(raw)
    except (ValueError, msgspec.DecodeError) as exc:
        raise TokenInvalid("undecodable token") from exc
    if state.collection != collection_tag(collection_key):
        raise TokenInvalid("token belongs to another collection")
    return state
