"""PostgreSQL's side of the columnar read: `COPY ... TO STDOUT (FORMAT binary)` into arrays.

A plain `SELECT` hands every field of every row over as a Python object, which
costs more than everything else the read does. Here the server sends the
rows in COPY's binary format and numpy takes the fields out of the bytes.
PostgreSQL sends each row as a message of its own, so a row starts where its
message does: the messages' sizes are noted as they are received and checked
against each row's first field, the byte length of its texts (computed by
the server), in one numpy pass (a stream framed otherwise is walked a row at
a time by that length). Every row then has its fixed fields (kind and
direction as small codes, the time in microseconds, duration, planned,
opens, clicks, the party count) at the same offsets, gathered for a whole
block as one byte matrix (a row of bytes per interaction, copied out of a
strided view of the block) and split into arrays. The texts (key,
conversation, the regarding link, the packed parties) come out the same way,
each a NUL-padded byte matrix (`text_codes.Text`), whose distinct values
text_codes finds. Nothing runs per row in Python but taking each message.

The stream is parsed in blocks of at most `chunk` rows (and a few MB), so the
copy is never held whole; the blocks' arrays come from glibc's heap, reused
block after block (malloc_tuning.blocks_from_the_heap).
"""

from __future__ import annotations

import select
import struct
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import pq

from scoring.columnar.columns import DIRECTION_NAMES, KIND_NAMES
from worker.run.text_codes import LONG_BYTES, Text

Bytes = npt.NDArray[np.uint8]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = len(_SIGNATURE) + 8  # flags and header extension length, both int32 (0 here)
_READ_BYTES = 4 << 20  # parse once this much has arrived (or a block's worth of rows)
_RECEIVE_ROWS = 2048  # messages received between two looks at how much has arrived
_TRAILER = b"\xff\xff"  # the stream's end: a field count of -1

# Fixed fields in row order: (SQL, binary width, numpy big-endian type).
_KIND_SQL = " ".join(f"WHEN '{name}' THEN {code}" for name, code in KIND_NAMES.items())
_DIRECTION_SQL = " ".join(
    f"WHEN '{name}' THEN {int(inbound)}" for name, inbound in DIRECTION_NAMES.items()
)
LINK_SEPARATOR = chr(31)  # between the regarding link's type and id
_TEXTS = (
    "key",
    "conversation_id",
    # One link, or NULL when either half is missing or empty (as the reader reads it).
    "CASE WHEN regarding_type <> '' AND regarding_id <> '' "
    f"THEN regarding_type || chr({ord(LINK_SEPARATOR)}) || regarding_id END",
    "parties",
)
_FIXED: tuple[tuple[str, str, int, str], ...] = (
    ("kind", f"(CASE kind {_KIND_SQL} ELSE -1 END)::int2", 2, ">i2"),
    ("inbound", f"(CASE direction {_DIRECTION_SQL} ELSE -1 END)::int2", 2, ">i2"),
    # As stored: a binary timestamp is microseconds since 2000-01-01 (the reader adds
    # POSTGRES_EPOCH_US); epoch microseconds computed by the server (numeric arithmetic)
    # cost a fifth of the copy.
    ("ts_us", "occurred_at", 8, ">i8"),
    ("duration", "coalesce(duration_minutes, 0)::float8", 8, ">f8"),
    ("planned", "coalesce(planned, false)", 1, "?"),
    ("opens", "coalesce(opens, 0)::int4", 4, ">i4"),
    ("clicks", "coalesce(clicks, 0)::int4", 4, ">i4"),
    ("party_count", "coalesce(party_count, 0)::int4", 4, ">i4"),
)
_TEXT_BYTES = " + ".join(f"coalesce(octet_length({text}), 0)" for text in _TEXTS)
# Every row: its field count (int16), then each field as int32 length + bytes: the
# text length and the fixed fields first, at the same place in every row.
_FIELDS = 1 + len(_FIXED) + len(_TEXTS)
_ROW_HEAD = 2 + (4 + 4) + sum(4 + width for _, _, width, _ in _FIXED)
_FIXED_BYTES = _ROW_HEAD + 4 * len(_TEXTS)
COPY_QUERY = (
    "COPY (SELECT ("
    + _TEXT_BYTES
    + ")::int4, "
    + ", ".join(sql for _, sql, _, _ in _FIXED)
    + ", "
    + ", ".join(_TEXTS)
    + " FROM interaction{where}) TO STDOUT (FORMAT binary)"
)
_TEXT_LENGTH = struct.Struct(">i")
POSTGRES_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970-01-01


class Block:
    """One block of rows: the fixed fields as arrays, the key as a fixed-width bytes
    array and the other texts as `Text` matrices (text_codes)."""

    def __init__(self, raw: Bytes, starts: Ints) -> None:
        self.rows = len(starts)
        head = _windows(raw, _ROW_HEAD)[starts]  # each row's fixed part, one row each
        if self.rows and not (_field(head, 0, ">i2", 2) == _FIELDS).all():
            raise ValueError("the interaction copy's rows do not have the fields asked for")
        self.fixed: dict[str, npt.NDArray[Any]] = {}
        at = 2 + 8  # past the field count and the text length
        for name, _sql, width, dtype in _FIXED:
            self.fixed[name] = _field(head, at + 4, dtype, width)
            at += 4 + width
        del head
        at_row = starts + _ROW_HEAD
        texts: list[Text] = []
        for number in range(len(_TEXTS)):
            length = _windows(raw, 4)[at_row].view(">i4").ravel().astype(np.int64)
            null = length < 0
            length[null] = 0
            if number == 0:
                # The key, kept whole for the book and never NULL: no long values apart.
                key_bytes = max(int(length.max(initial=0)), 1)
            texts.append(_text(raw, at_row + 4, length, null, None if number == 0 else LONG_BYTES))
            at_row = at_row + 4 + length
        key, self.conversation, self.regarding, self.parties = texts
        self.keys: npt.NDArray[np.bytes_] = (
            np.ascontiguousarray(key.matrix[:, :key_bytes]).view(f"S{key_bytes}").ravel()
        )


def _windows(raw: Bytes, width: int) -> npt.NDArray[np.uint8]:
    """Every `width` bytes of `raw` as a row, one row per starting offset (a view: indexing
    it with offsets copies those rows, a block of bytes each)."""
    windows: npt.NDArray[np.uint8] = np.lib.stride_tricks.as_strided(
        raw, shape=(len(raw) - width + 1, width), strides=(1, 1), writeable=False
    )
    return windows


def _field(head: Bytes, at: int, dtype: str, width: int) -> npt.NDArray[Any]:
    """The big-endian field at `at` of every row of `head`, as one array."""
    field: npt.NDArray[Any] = np.ascontiguousarray(head[:, at : at + width]).view(dtype).ravel()
    return field


def _text(raw: Bytes, at: Ints, length: Ints, null: Bools, long_bytes: int | None) -> Text:
    long = ~null & (length > long_bytes) if long_bytes is not None else np.zeros_like(null)
    short = np.flatnonzero(~null & ~long)
    long_rows = np.flatnonzero(long)
    long_values = [
        raw[start : start + size].tobytes()
        for start, size in zip(at[long_rows].tolist(), length[long_rows].tolist(), strict=True)
    ]
    return Text(len(at), short, _padded(raw, at[short], length[short]), long_rows, long_values)


def _padded(raw: Bytes, at: Ints, length: Ints) -> Bytes:
    """The bytes at `at` of `length` each, one row each, NUL-padded to a multiple of 8."""
    width = max(8, -(-int(length.max(initial=0)) // 8) * 8)
    rows: Bytes = _windows(raw, width)[at]
    np.multiply(rows, np.arange(width) < length[:, None], out=rows)  # the padding zeroed
    return rows


Receive = Callable[[bytearray, list[int], int], bool]


def copy_messages(copy: psycopg.Copy) -> Receive:
    """A `receive` for copy_blocks over a psycopg COPY TO: it appends up to `rows`
    messages to `pending` and their sizes to `sizes`, and says whether more may come.
    The messages libpq holds already are taken straight from it (psycopg's
    Copy.read waits on the socket around each one, about half a microsecond a
    row); only when libpq has none does Copy.read wait for more. Taking the end
    of the copy from libpq leaves its result to be read here, so the connection
    is ready for the next statement."""
    pgconn = copy.connection.pgconn
    take = pgconn.get_copy_data

    def receive(pending: bytearray, sizes: list[int], rows: int) -> bool:
        size_of = sizes.append
        for _ in range(rows):
            size, message = take(1)  # 1: do not wait
            if size > 0:
                pending += message
                size_of(size)
                continue
            if size < 0:
                _copy_result(pgconn)
                return False
            waited = copy.read()
            if not waited:
                return False
            pending += waited
            size_of(len(waited))
        return True

    return receive


def _copy_result(pgconn: pq.abc.PGconn) -> None:
    """The results that follow a COPY's end, read off the connection."""
    while True:
        while pgconn.is_busy():
            select.select([pgconn.socket], [], [])
            pgconn.consume_input()
        result = pgconn.get_result()
        if result is None:
            return
        if result.status != pq.ExecStatus.COMMAND_OK:
            message = (result.error_message or b"").decode(errors="replace").strip()
            raise psycopg.DatabaseError(f"the interaction copy failed: {message}")


def copy_blocks(receive: Receive, chunk: int) -> Iterator[Block]:
    """Blocks of at most `chunk` rows from a binary COPY stream, `receive`d a block's
    worth of messages at a time (copy_messages)."""
    rows = max(chunk, 1)
    stream = _Stream()
    pending, more = bytearray(), True
    while more:
        sizes: list[int] = []
        while more and len(sizes) < rows and len(pending) < _READ_BYTES:
            more = receive(pending, sizes, min(rows - len(sizes), _RECEIVE_ROWS))
        if not stream.header_read(pending, sizes, more):
            continue
        end, starts = stream.row_starts(pending, sizes)
        if len(starts):
            received = len(pending)
            # Zeros after the rows: a window as wide as the longest row can start
            # anywhere in them (_padded). The blocks read the bytes in place.
            pending += bytes(int(np.diff(starts, append=end).max()) + 8)
            raw = np.frombuffer(pending, dtype=np.uint8)
            for first in range(0, len(starts), rows):
                yield Block(raw, starts[first : first + rows])
            del raw  # every block copied what it keeps
            pending = pending[end:received]
        elif end:
            del pending[:end]  # the trailer


class _Stream:
    """Where a binary COPY stream's rows start. PostgreSQL sends each row as a message
    of its own (the header comes with the first, the trailer alone), so the rows
    start where the messages do: their sizes, noted as they are received, are
    checked against each row's own length in one pass over the block. A stream
    framed otherwise is walked row by row (`_row_starts`) from where that was found."""

    def __init__(self) -> None:
        self.header = False
        self.framed = True  # every message so far one row

    def header_read(self, pending: bytearray, sizes: list[int], more: bool) -> bool:
        """Whether the header has been read off the stream (now, or before)."""
        if self.header:
            return True
        # The signature first: a stream that is not PGCOPY spells no extension length.
        if len(pending) >= len(_SIGNATURE) and bytes(pending[: len(_SIGNATURE)]) != _SIGNATURE:
            raise ValueError("the interaction copy is not in PostgreSQL's binary format")
        if len(pending) < _HEADER or (
            len(pending) < _HEADER + _TEXT_LENGTH.unpack_from(pending, _HEADER - 4)[0]
        ):
            if not more and pending:
                raise ValueError("the interaction copy ended within its header")
            self.framed = False  # these messages' sizes are not counted again
            return False
        if bytes(pending[: len(_SIGNATURE)]) != _SIGNATURE:
            raise ValueError("the interaction copy is not in PostgreSQL's binary format")
        length = _HEADER + _TEXT_LENGTH.unpack_from(pending, _HEADER - 4)[0]
        del pending[:length]
        if self.framed and sizes and sizes[0] >= length:
            sizes[0] -= length  # the header came with the first row
            if not sizes[0]:
                del sizes[0]
        else:
            self.framed = False
        self.header = True
        return True

    def row_starts(self, pending: bytearray, sizes: list[int]) -> tuple[int, Ints]:
        """Where each complete row of `pending` starts; and where what is read of it
        ends (walked: where the first incomplete row, or the trailer, starts)."""
        if self.framed:
            framed = _framed_starts(pending, sizes)
            if framed is not None:
                return framed
            self.framed = False
        return _row_starts(pending)


def _framed_starts(pending: bytearray, sizes: list[int]) -> tuple[int, Ints] | None:
    """Where the rows end (all of `pending`) and start, if each of `sizes` is one row's
    message (the last may be the trailer, too short for a row, whether or not the
    end was seen with it); None if not."""
    ends = np.cumsum(np.array(sizes, dtype=np.int64))
    rows = len(pending)
    if sizes and sizes[-1] == len(_TRAILER) and pending.endswith(_TRAILER):
        ends, rows = ends[:-1], rows - len(_TRAILER)
    if not len(ends):
        return (len(pending), ends) if rows == 0 else None
    starts = ends - np.diff(ends, prepend=0)
    if ends[-1] != rows or int((ends - starts).min()) < _ROW_HEAD:
        return None
    # Each row's text length, read in place: the row ends where its message does.
    lengths = _windows(np.frombuffer(pending, dtype=np.uint8), 4)[starts + 6].view(">i4").ravel()
    if not (starts + _FIXED_BYTES + lengths == ends).all():
        return None
    return len(pending), starts


def _row_starts(data: bytearray) -> tuple[int, Ints]:
    """Where each complete row of `data` starts; and where the first incomplete row
    (or the trailer) starts."""
    unpack, fixed, size = _TEXT_LENGTH.unpack_from, _FIXED_BYTES, len(data)
    starts: list[int] = []
    at = 0
    # The trailer (two bytes) is shorter than any row.
    while at + 10 <= size:
        end = at + fixed + unpack(data, at + 6)[0]
        if end > size:
            break
        starts.append(at)
        at = end
    return at, np.array(starts, dtype=np.int64)
