"""A book of interactions as columns: one numpy array per field, no object per interaction.

What repeats is interned instead: a million interactions name a few ten
thousand distinct party sets, so each interaction holds the code of its set
(`party_set`) and each distinct set is decoded once (`PartySets`). Records
are `RecordRef` codes (`refs`), conversations codes into their texts, kept
encoded in one bytes array (`Texts`). Codes and counts are as narrow as their
values allow (`DTYPES`): at a million interactions the columns take about
50 MB.

Rows are kept in scoring's chronological order once the builder's `finish()`
has run (builder.py): oldest first, ties by key
(scoring.prepared.sort_chronologically), so a position is an interaction's
place in every record's history.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.model import (
    Direction,
    Interaction,
    Kind,
    Party,
    RecordRef,
    Response,
    Role,
)

Ints = npt.NDArray[np.int64]
# Codes and counts per interaction, as narrow as their values allow (int8 or int32; a
# book's memory is mostly its columns): any signed integer width to the type checker.
Codes = npt.NDArray[np.signedinteger[Any]]
Int32s = npt.NDArray[np.int32]  # codes and places known to be int32
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

KINDS: tuple[Kind, ...] = (Kind.EMAIL, Kind.MEETING, Kind.CALL, Kind.TASK)
KIND_CODES = {kind: code for code, kind in enumerate(KINDS)}
KIND_NAMES = {kind.value: code for code, kind in enumerate(KINDS)}
EMAIL, MEETING, CALL, TASK = range(4)
DIRECTION_NAMES = {"inbound": True, "outbound": False}
RESPONSES: tuple[Response | None, ...] = (None, *Response)
RESPONSE_CODES = {response: code for code, response in enumerate(RESPONSES)}
ROLES: tuple[Role, ...] = tuple(Role)
ROLE_CODES = {role: code for code, role in enumerate(ROLES)}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware time (its timestamp() is this / 1e6)."""
    return (moment - EPOCH) // _MICROSECOND


def moment(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


# Each column's type: codes and counts as narrow as their values allow.
DTYPES: dict[str, Any] = {
    "keys": np.bytes_,
    "kind": np.int8,
    "inbound": np.bool_,
    "ts_us": np.int64,
    "duration": np.float64,
    "conversation": np.int32,
    "regarding": np.int32,
    "planned": np.bool_,
    "opens": np.int32,
    "clicks": np.int32,
    "party_set": np.int32,
}


@dataclass
class PartySets:
    """The distinct party sets of a book, each once, by code."""

    internal: list[tuple[Party, ...]] = field(default_factory=list)
    external: list[tuple[Party, ...]] = field(default_factory=list)
    _codes: dict[Any, int] = field(default_factory=dict)

    def forget_keys(self) -> None:
        """Drop what finds a set's code by its key: a finished book only reads by code."""
        self._codes = {}

    def code(self, key: Any, internal: tuple[Party, ...], external: tuple[Party, ...]) -> int:
        found = self._codes.get(key)
        if found is None:
            found = self._codes[key] = self.add(internal, external)
        return found

    def add(self, internal: tuple[Party, ...], external: tuple[Party, ...]) -> int:
        """A set known to be new (the read decodes each distinct packed text once)."""
        self.internal.append(internal)
        self.external.append(external)
        return len(self.internal) - 1


@dataclass
class Refs:
    """RecordRef <-> code, one code per distinct reference."""

    refs: list[RecordRef] = field(default_factory=list)
    codes: dict[RecordRef, int] = field(default_factory=dict)

    def code(self, ref: RecordRef) -> int:
        found = self.codes.get(ref)
        if found is None:
            found = self.codes[ref] = len(self.refs)
            self.refs.append(ref)
        return found


class Texts(Sequence[str]):
    """Distinct texts by code, held as one bytes array (UTF-8) and decoded when read:
    a few hundred thousand conversation ids cost a few MB instead of a Python
    string each."""

    def __init__(self, encoded: npt.NDArray[np.bytes_]) -> None:
        self.encoded = encoded

    @classmethod
    def of(cls, texts: Sequence[str]) -> Texts:
        return cls(np.array([text.encode() for text in texts], dtype=np.bytes_))

    def __len__(self) -> int:
        return len(self.encoded)

    def __getitem__(self, code: int) -> str:  # type: ignore[override]
        return bytes(self.encoded[code]).decode()

    def __iter__(self) -> Iterator[str]:
        return (text.decode() for text in self.encoded.tolist())


@dataclass
class InteractionColumns:
    """Every interaction of a book, one array per field (see the module docstring).

    `broken` lists interactions that could not be read as scoring needs them
    (a naive time, say), with why: a record that reaches one fails on its own.
    """

    keys: npt.NDArray[np.bytes_]
    kind: Codes  # a code into KINDS (int8)
    inbound: Bools
    ts_us: Ints
    duration: Floats
    conversation: Codes  # -1: none (int32, as every code below)
    regarding: Codes  # a code into refs, -1: none
    planned: Bools
    opens: Codes
    clicks: Codes
    party_set: Codes  # a code into sets, -1: no parties
    sets: PartySets
    refs: Refs
    conversations: Sequence[str]  # by code (Texts)
    broken: list[tuple[Interaction, Exception]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.kind)

    @property
    def ts(self) -> Floats:
        return self.ts_us / 1_000_000

    def interaction(self, position: int) -> Interaction:
        """One interaction as scoring's value (for the few a record's reasons quote)."""
        code = int(self.party_set[position])
        conversation = int(self.conversation[position])
        regarding = int(self.regarding[position])
        return Interaction(
            key=bytes(self.keys[position]).decode(),
            kind=KINDS[int(self.kind[position])],
            direction=Direction.INBOUND if self.inbound[position] else Direction.OUTBOUND,
            occurred_at=moment(int(self.ts_us[position])),
            internal=self.sets.internal[code] if code >= 0 else (),
            external=self.sets.external[code] if code >= 0 else (),
            duration_minutes=float(self.duration[position]),
            conversation_id=self.conversations[conversation] if conversation >= 0 else None,
            regarding=self.refs.refs[regarding] if regarding >= 0 else None,
            planned=bool(self.planned[position]),
            opens=int(self.opens[position]),
            clicks=int(self.clicks[position]),
        )

    def interactions(self, positions: npt.ArrayLike) -> list[Interaction]:
        """The interactions at `positions` as scoring's values, built a chunk at a time
        (tuple.__new__ skips the NamedTuple's Python-level __new__)."""
        at = np.asarray(positions, dtype=np.int64)
        codes = self.party_set[at].tolist()
        conversations = self.conversation[at].tolist()
        regarding = self.regarding[at].tolist()
        internal, external = self.sets.internal, self.sets.external
        threads, refs = self.conversations, self.refs.refs
        new = tuple.__new__
        return [
            new(
                Interaction,
                (
                    key.decode(),
                    KINDS[kind],
                    Direction.INBOUND if inbound else Direction.OUTBOUND,
                    moment(ts),
                    internal[code] if code >= 0 else (),
                    external[code] if code >= 0 else (),
                    minutes,
                    threads[thread] if thread >= 0 else None,
                    refs[about] if about >= 0 else None,
                    planned,
                    opens,
                    clicks,
                ),
            )
            for key, kind, inbound, ts, code, minutes, thread, about, planned, opens, clicks in zip(
                self.keys[at].tolist(),
                self.kind[at].tolist(),
                self.inbound[at].tolist(),
                self.ts_us[at].tolist(),
                codes,
                self.duration[at].tolist(),
                conversations,
                regarding,
                self.planned[at].tolist(),
                self.opens[at].tolist(),
                self.clicks[at].tolist(),
                strict=True,
            )
        ]
