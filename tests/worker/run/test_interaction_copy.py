"""The binary COPY read finds the same rows however the stream is cut into messages
(worker.run.interaction_copy): PostgreSQL sends a row a message, whose sizes give
the rows' starts; a stream framed otherwise is walked row by row instead."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from storage.engine import session_scope
from storage.interaction_store import InteractionRecord, PartyRow, insert_interactions
from tests import factories as f
from worker.run import interaction_copy
from worker.run.interaction_copy import COPY_QUERY, Block, Receive, copy_blocks, copy_messages
from worker.run.text_codes import Text


def _record(number: int) -> InteractionRecord:
    parties = {PartyRow("contact", f"c{number % 3}", "attendee", "external", None)}
    if number % 2:
        parties.add(PartyRow("system_user", "u1", "organizer", "internal", "accepted"))
    return InteractionRecord(
        key=f"k-{number:0{number % 4 + 1}d}",
        source="crm",
        kind="meeting" if number % 2 else "email",
        direction="outbound" if number % 3 else "inbound",
        occurred_at=f.days_ago(number),
        parties=frozenset(parties),
        duration_minutes=float(number),
        conversation_id=None if number % 5 == 0 else f"cv-{number % 4}" * (number % 3 + 1),
        regarding_type="account" if number % 4 == 0 else None,
        regarding_id=f"a{number}" if number % 4 == 0 else None,
    )


def _messages(engine: Engine) -> list[bytes]:
    """The copy's messages as PostgreSQL sends them."""
    raw: Any = engine.raw_connection()
    try:
        with raw.cursor().copy(COPY_QUERY.format(where="")) as copy:
            receive = copy_messages(copy)
            pending, sizes = bytearray(), list[int]()
            while receive(pending, sizes, 5):
                pass
        raw.commit()
    finally:
        raw.close()
    messages, at = [], 0
    for size in sizes:
        messages.append(bytes(pending[at : at + size]))
        at += size
    assert at == len(pending)
    return messages


def _replayed(messages: list[bytes]) -> Receive:
    """A `receive` over canned messages."""
    waiting: Iterator[bytes] = iter(messages)

    def receive(pending: bytearray, sizes: list[int], rows: int) -> bool:
        for _ in range(rows):
            message = next(waiting, None)
            if message is None:
                return False
            pending += message
            sizes.append(len(message))
        return True

    return receive


def _values(text: Text) -> list[bytes | None]:
    values: list[bytes | None] = [None] * text.rows
    for row, value in zip(text.short.tolist(), text.matrix.tolist(), strict=True):
        values[row] = bytes(value).rstrip(b"\0")
    for row, long_value in zip(text.long.tolist(), text.long_values, strict=True):
        values[row] = long_value
    return values


def _rows(blocks: Iterator[Block]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for block in blocks:
        assert block.rows
        fixed = [block.fixed[name].tolist() for name in sorted(block.fixed)]
        texts = [_values(text) for text in (block.conversation, block.regarding, block.parties)]
        rows += zip(block.keys.tolist(), *fixed, *texts, strict=True)
    return rows


def _cut(stream: bytes, *sizes: int) -> list[bytes]:
    """`stream` in pieces of the given sizes in turn, whatever its rows."""
    pieces, at, turn = [], 0, 0
    while at < len(stream):
        size = sizes[turn % len(sizes)]
        pieces.append(stream[at : at + size])
        at, turn = at + size, turn + 1
    return pieces


def _not_walked(data: bytearray) -> tuple[int, Any]:
    raise AssertionError("a stream of a row a message was walked row by row")


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # the COPY read's
def test_rows_read_the_same_however_the_stream_is_cut(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(engine) as session:
        insert_interactions(session=session, records=[_record(n) for n in range(23)])
    messages = _messages(engine)
    # One row a message; the header with the first, the trailer on its own.
    assert len(messages) == 24 and messages[-1] == b"\xff\xff"
    stream = b"".join(messages)
    header = [stream[:19], messages[0][19:], *messages[1:]]  # the header alone

    with monkeypatch.context() as walks:
        walks.setattr(interaction_copy, "_row_starts", _not_walked)
        expected = _rows(copy_blocks(_replayed(messages), 1000))
        for chunk in (1, 4, 5, 1000):
            assert _rows(copy_blocks(_replayed(messages), chunk)) == expected
            assert _rows(copy_blocks(_replayed(header), chunk)) == expected

    assert len(expected) == 23
    assert sorted(row[0] for row in expected) == sorted(_record(n).key.encode() for n in range(23))
    for chunk in (1, 4, 1000):
        for sizes in ((7,), (1, 300), (len(stream),), (40, 3, 111)):
            cut = _cut(stream, *sizes)
            assert _rows(copy_blocks(_replayed(cut), chunk)) == expected, sizes


def test_a_stream_not_in_postgres_binary_format_is_refused_by_its_signature() -> None:
    # Text COPY output, say: its bytes where PGCOPY's extension length would be read
    # as a length of about 2 GB, which left the whole stream waiting to be parsed.
    stream = b"e1\tmsg:<a@b.example>\t2024-05-20 09:00:00+00\n" * 50
    with pytest.raises(ValueError, match="not in PostgreSQL's binary format"):
        list(copy_blocks(_replayed([stream[:20], stream[20:]]), 1000))
