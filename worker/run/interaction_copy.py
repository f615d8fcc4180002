"""PostgreSQL's side of the columnar read: `COPY ... TO STDOUT (FORMAT binary)` into arrays.

A plain `SELECT` hands every field of every row over as a Python object, which
costs more than everything else the read does. Here the server sends the
rows in COPY's binary format and numpy takes the fields out of the bytes:
the fixed-width fields (kind and direction as small codes, the time in
microseconds, duration, planned, opens, clicks, the party count) are gathered
from every row of a block at once, and the four texts (key, conversation,
the regarding link, the packed parties) become fixed-width byte arrays whose
distinct values are found by one sort per block (`np.unique`): only a
distinct value is ever a Python object. Each row's first field is the byte
length of its texts (computed by the server), so finding where each row
starts is one integer read per row; nothing else runs per row in Python.

The stream is parsed in blocks of at most `chunk` rows (and a few MB), so the
copy is never held whole.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.columnar.columns import DIRECTION_NAMES, KIND_NAMES

Bytes = npt.NDArray[np.uint8]
Ints = npt.NDArray[np.int64]

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = len(_SIGNATURE) + 8  # flags and header extension length, both int32 (0 here)
_READ_BYTES = 8 << 20  # parse once this much has arrived (or a block's worth of rows)
_ROW_BYTES = 256  # about one row, to size a block's worth

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
    ("ts_us", "(extract(epoch FROM occurred_at) * 1000000)::int8", 8, ">i8"),
    ("duration", "coalesce(duration_minutes, 0)::float8", 8, ">f8"),
    ("planned", "coalesce(planned, false)", 1, "?"),
    ("opens", "coalesce(opens, 0)::int4", 4, ">i4"),
    ("clicks", "coalesce(clicks, 0)::int4", 4, ">i4"),
    ("party_count", "coalesce(party_count, 0)::int4", 4, ">i4"),
)
_TEXT_BYTES = " + ".join(f"coalesce(octet_length({text}), 0)" for text in _TEXTS)
# Every row: its field count (int16), then each field as int32 length + bytes.
_FIELDS = 1 + len(_FIXED) + len(_TEXTS)
_FIXED_BYTES = 2 + (4 + 4) + sum(4 + width for _, _, width, _ in _FIXED) + 4 * len(_TEXTS)
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


class Block:
    """One block of rows: fixed fields as arrays, texts as fixed-width byte arrays
    (NUL-padded; PostgreSQL text holds no NUL) with a mask of the NULLs."""

    def __init__(self, data: bytes, starts: Ints) -> None:
        self.rows = len(starts)
        raw = np.frombuffer(data, dtype=np.uint8)
        if len(starts) and not (_gather(raw, starts, 2).view(">i2") == _FIELDS).all():
            raise ValueError("the interaction copy's rows do not have the fields asked for")
        at = starts + 2 + 8  # past the field count and the text length
        self.fixed: dict[str, npt.NDArray[Any]] = {}
        for name, _sql, width, dtype in _FIXED:
            self.fixed[name] = _gather(raw, at + 4, width).view(dtype).ravel()
            at = at + 4 + width
        self.texts: list[tuple[npt.NDArray[np.bytes_], npt.NDArray[np.bool_]]] = []
        for _ in _TEXTS:
            length = _gather(raw, at, 4).view(">i4").ravel().astype(np.int64)
            null = length < 0
            length[null] = 0
            self.texts.append((_strings(raw, at + 4, length), null))
            at = at + 4 + length


def _gather(raw: Bytes, at: Ints, width: int) -> Bytes:
    """`width` bytes at each offset, one row per offset."""
    gathered: Bytes = raw[at[:, None] + np.arange(width)]
    return gathered


def _strings(raw: Bytes, at: Ints, length: Ints) -> npt.NDArray[np.bytes_]:
    """The bytes at `at` of `length` each, as one fixed-width bytes array (gathered
    _STRING_ROWS rows at a time: the index arrays hold one integer per byte)."""
    rows = len(at)
    width = int(length.max()) if rows else 0
    if width == 0:
        return np.zeros(rows, dtype="S1")
    padded = np.zeros(rows * width, dtype=np.uint8)
    for first in range(0, rows, _STRING_ROWS):
        lengths = length[first : first + _STRING_ROWS]
        total = int(lengths.sum())
        starts = np.cumsum(lengths) - lengths
        step = np.arange(total, dtype=np.int64) - np.repeat(starts, lengths)
        row = np.arange(first, first + len(lengths), dtype=np.int64) * width
        padded[np.repeat(row, lengths) + step] = raw[
            np.repeat(at[first : first + _STRING_ROWS], lengths) + step
        ]
    strings: npt.NDArray[np.bytes_] = padded.view(f"S{width}")
    return strings


_STRING_ROWS = 8_192


def copy_blocks(read: Callable[[], bytes | None], chunk: int) -> Iterator[Block]:
    """Blocks of at most `chunk` rows from a binary COPY stream (`read` gives its
    pieces as they arrive, None at its end)."""
    pending = bytearray()
    header = False
    enough = min(_READ_BYTES, chunk * _ROW_BYTES)
    while True:
        piece = read()
        if piece is not None:
            pending += piece
            if len(pending) < enough:
                continue
        if not header:
            if len(pending) < _HEADER:
                if piece is None:
                    return
                continue
            if bytes(pending[: len(_SIGNATURE)]) != _SIGNATURE:
                raise ValueError("the interaction copy is not in PostgreSQL's binary format")
            extension = _TEXT_LENGTH.unpack_from(pending, len(_SIGNATURE) + 4)[0]
            del pending[: _HEADER + extension]
            header = True
        data = bytes(pending)
        end, blocks = _row_starts(data, chunk)
        for starts in blocks:
            yield Block(data, starts)
        del pending[:end]
        if piece is None:
            return


def _row_starts(data: bytes, chunk: int) -> tuple[int, list[Ints]]:
    """Where each complete row of `data` starts, in blocks of at most `chunk`; and
    where the first incomplete row (or the trailer) starts."""
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
    found = np.array(starts, dtype=np.int64)
    return at, [found[i : i + chunk] for i in range(0, len(found), max(chunk, 1))]


_MIXERS = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93],
    dtype=np.uint64,
)


def distinct(
    strings: npt.NDArray[np.bytes_], null: npt.NDArray[np.bool_]
) -> tuple[Ints, list[bytes]]:
    """(code of each row's value, -1 for NULL; the distinct values by code).

    Rows are grouped by a 64-bit hash of their bytes (a sort of integers, much
    cheaper than sorting the strings), and each group is checked to hold one
    value only; on a collision the strings themselves are sorted instead."""
    width = strings.dtype.itemsize
    padded = (width + 7) // 8 * 8
    words = np.zeros((len(strings), padded), dtype=np.uint8)
    words[:, :width] = strings.view(np.uint8).reshape(len(strings), width)
    lanes = words.view(np.uint64)
    digest = np.zeros(len(strings), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for lane in range(lanes.shape[1]):
            digest = (digest ^ lanes[:, lane]) * _MIXERS[lane % len(_MIXERS)]
            digest ^= digest >> np.uint64(29)
    first, inverse = _groups(digest)
    representative = strings[first]
    if not (strings == representative[inverse]).all():
        values, inverse = np.unique(strings, return_inverse=True)
        representative = values
    codes = inverse.astype(np.int64).ravel()
    codes[null] = -1
    return codes, representative.tolist()


def _groups(values: npt.NDArray[np.uint64]) -> tuple[Ints, Ints]:
    """(a row of each distinct value, each row's group) by one sort (np.unique hashes
    in numpy 2.3+, several times slower here)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.ones(len(values), dtype=np.bool_)
    new[1:] = ordered[1:] != ordered[:-1]
    inverse = np.empty(len(values), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse
