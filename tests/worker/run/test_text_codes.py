"""The COPY read's texts get one code per distinct value of the whole book, whatever
block, matrix width or hash they come with (worker.run.text_codes)."""

from __future__ import annotations

import numpy as np
import pytest

from worker.run import text_codes
from worker.run.text_codes import LONG_BYTES, BookTexts, Text


def _text(values: list[bytes | None], width: int) -> Text:
    """A block's text as interaction_copy makes it, its matrix `width` bytes wide."""
    short = [row for row, value in enumerate(values) if value is not None]
    short = [row for row in short if len(values[row] or b"") <= LONG_BYTES]
    long = [row for row, value in enumerate(values) if value and len(value) > LONG_BYTES]
    matrix = np.zeros((len(short), width), dtype=np.uint8)
    for at, row in enumerate(short):
        value = values[row] or b""
        matrix[at, : len(value)] = np.frombuffer(value, dtype=np.uint8)
    return Text(
        len(values),
        np.array(short, dtype=np.int64),
        matrix,
        np.array(long, dtype=np.int64),
        [values[row] or b"" for row in long],
    )


def _read(blocks: list[tuple[list[bytes | None], int]]) -> tuple[list[list[int]], list[bytes]]:
    book = BookTexts()
    codes, values = [], []
    for block, width in blocks:
        block_codes, new = book.codes(_text(block, width))
        codes.append(block_codes.tolist())
        values += new
    assert book.encoded().tolist() == values  # the same values by code, in one array
    return codes, values


LONG = b"x" * (LONG_BYTES + 1)
BLOCKS: list[tuple[list[bytes | None], int]] = [
    ([b"cv-1", None, b"cv-2", b"cv-1", LONG], 8),
    ([b"cv-2", b"a much longer conversation id", None, LONG, b"cv-1"], 32),
    ([b"cv-1", b"cv-3"], 16),
]


def _check(codes: list[list[int]], values: list[bytes]) -> None:
    for (block, _width), block_codes in zip(BLOCKS, codes, strict=True):
        assert [None if code < 0 else values[code] for code in block_codes] == block
    assert len(values) == len(set(values)) == 5


def test_a_value_has_one_code_across_blocks_of_any_width() -> None:
    _check(*_read(BLOCKS))


def test_values_sharing_a_hash_still_get_one_code_each(monkeypatch: pytest.MonkeyPatch) -> None:
    def one_hash(matrix: text_codes.Matrix) -> text_codes.Digests:
        return np.zeros(len(matrix), dtype=np.uint64)

    monkeypatch.setattr(text_codes, "row_digests", one_hash)

    _check(*_read(BLOCKS))


def test_a_book_of_many_values_keeps_one_code_each() -> None:
    """Thousands of values over many blocks, each block half new and half seen before:
    the codes' table grows several times meanwhile."""
    blocks: list[tuple[list[bytes | None], int]] = []
    for block in range(12):
        new = [f"conversation-{block}-{row}".encode() for row in range(1500)]
        seen = [f"conversation-{block // 2}-{row}".encode() for row in range(0, 1500, 2)]
        blocks.append(([*new, *seen], 32))
    codes, values = _read(blocks)
    for (rows, _width), block_codes in zip(blocks, codes, strict=True):
        assert [values[code] for code in block_codes] == rows
    assert len(values) == len(set(values)) == 12 * 1500


@pytest.mark.parametrize("row", [(), (2,)])
def test_an_appended_array_holds_what_was_appended_in_order(row: tuple[int, ...]) -> None:
    appended = text_codes.Appended(np.int32, *row)
    expected = np.zeros((0, *row), dtype=np.int32)
    for size in (0, 3, 1, 40, 7, 0, 500):
        values = np.arange(size * int(np.prod(row)), dtype=np.int32).reshape(size, *row)
        values += len(expected)
        appended.extend(values)
        expected = np.concatenate([expected, values])
        assert appended.values.dtype == np.int32
        assert np.array_equal(appended.values, expected)
