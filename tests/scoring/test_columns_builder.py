"""ColumnsBuilder: chunks written into growing columns come out whole, oldest first, ties by key."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.columnar.builder import ColumnsBuilder, chronological, in_order
from scoring.columnar.columns import DTYPES


def _chunk(
    rng: np.random.Generator, rows: int, key_bytes: int, start: int
) -> dict[str, np.ndarray]:
    numbers = np.arange(start, start + rows)
    return {
        "keys": np.array([f"{n:0{key_bytes}d}".encode() for n in numbers], dtype=np.bytes_),
        "kind": rng.integers(0, 4, rows).astype(">i2"),  # cast on the way in, as the copy's
        "inbound": rng.random(rows) < 0.5,
        "ts_us": rng.integers(0, 50, rows) * 1_000_000,  # many ties, told apart by key
        "duration": rng.random(rows).astype(">f8"),
        "conversation": rng.integers(-1, 9, rows),
        "regarding": rng.integers(-1, 9, rows),
        "planned": rng.random(rows) < 0.1,
        "opens": rng.integers(0, 5, rows).astype(">i4"),
        "clicks": rng.integers(0, 5, rows).astype(">i4"),
        "party_set": rng.integers(-1, 9, rows),
    }


@pytest.mark.parametrize("sizes", [[3], [5, 70_000, 7], [40_000, 40_000, 1]])
def test_chunks_come_out_whole_and_in_order(sizes: list[int]) -> None:
    rng = np.random.default_rng(len(sizes))
    builder = ColumnsBuilder()
    chunks, start = [], 0
    for number, rows in enumerate(sizes):
        # Later chunks with longer keys: the key column widens as it is written.
        chunks.append(_chunk(rng, rows, 6 + number, start))
        start += rows
        builder.add_arrays(**chunks[-1])
    columns = builder.finish()

    whole = {name: np.concatenate([chunk[name] for chunk in chunks]) for name in DTYPES}
    order = sorted(range(start), key=lambda row: (whole["ts_us"][row], whole["keys"][row]))
    for name, dtype in DTYPES.items():
        got = getattr(columns, name)
        assert got.dtype.kind == np.dtype(dtype).kind
        assert got.tolist() == whole[name][order].astype(got.dtype).tolist(), name
    assert in_order(columns.ts_us, columns.keys)


def test_rows_read_in_order_are_kept_as_they_are_and_the_builder_reads_again() -> None:
    builder = ColumnsBuilder()
    rng = np.random.default_rng(5)
    chunk = _chunk(rng, 1_000, 8, 0)
    chunk["ts_us"] = np.sort(chunk["ts_us"])  # keys rise with the rows: in order already
    builder.add_arrays(**chunk)
    first = builder.finish()
    assert first.ts_us.tolist() == chunk["ts_us"].tolist()
    assert first.keys.tolist() == chunk["keys"].tolist()
    # Not sorted again: each column is still the rows written of the builder's own
    # array (a view), where a sort would have made copies of its own.
    assert all(getattr(first, name).base is not None for name in DTYPES)

    builder.add_arrays(**_chunk(rng, 10, 8, 5_000))
    second = builder.finish()  # a second read through the same builder: its rows only
    assert len(second) == 10
    assert len(builder.finish()) == 0


def test_in_order_tells_ties_by_key() -> None:
    keys = np.array([b"a", b"c", b"b"])
    assert in_order(np.array([1, 2, 2]), np.array([b"a", b"b", b"c"]))
    assert not in_order(np.array([1, 2, 2]), keys)
    assert not in_order(np.array([2, 1, 3]), np.array([b"a", b"b", b"c"]))
    assert in_order(np.zeros(0, np.int64), np.zeros(0, "S1"))


@pytest.mark.parametrize("seed", range(5))
def test_chronological_is_a_stable_sort_by_time_then_key(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = 5_000
    ts_us = rng.integers(0, 300, rows)  # many equal times
    keys = np.array([f"k{n}".encode() for n in rng.integers(0, 2_000, rows)])  # and keys
    expected = sorted(range(rows), key=lambda row: (ts_us[row], keys[row]))  # stable
    assert chronological(ts_us, keys).tolist() == expected


def test_a_chunk_without_every_field_is_refused() -> None:
    builder = ColumnsBuilder()
    chunk = _chunk(np.random.default_rng(2), 10, 8, 0)
    del chunk["opens"]
    with pytest.raises(ValueError, match=r"missing \['opens'\], unknown \[\]"):
        builder.add_arrays(**chunk)
    with pytest.raises(ValueError, match=r"unknown \['surplus'\]"):
        builder.add_arrays(**_chunk(np.random.default_rng(2), 10, 8, 0), surplus=np.zeros(10))
