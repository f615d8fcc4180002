"""A delta-capable collection: an immutable baseline plus an overlay of changes.

The baseline may be a plain list (fixture items) or a synthetic source that
builds items on demand, so a 100,000-message mailbox costs nothing until it
is read. Changes made after the baseline get a sequence number; a delta round
is "every item" (initial) or "every change with since < seq <= upto", and a
delta token is just those integers (see deltatoken.py).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import msgspec

Item = dict[str, Any]


class Baseline(Protocol):
    def __len__(self) -> int: ...

    def items(self, start: int, stop: int) -> list[Item]:
        """Items at positions [start, stop)."""
        ...

    def find(self, item_id: str) -> Item | None: ...


@runtime_checkable
class RenderingBaseline(Baseline, Protocol):
    """A baseline that can emit pre-encoded JSON for unchanged items (the fast path)."""

    def render(
        self, start: int, stop: int, fields: tuple[str, ...] | None, withheld: frozenset[str]
    ) -> list[tuple[str, msgspec.Raw]]: ...


@dataclass(frozen=True)
class Rendering:
    fields: tuple[str, ...] | None
    withheld: frozenset[str]


class ListBaseline:
    def __init__(self, items: list[Item]) -> None:
        self._items = items
        self._by_id = {str(item["id"]): item for item in items}

    def __len__(self) -> int:
        return len(self._items)

    def items(self, start: int, stop: int) -> list[Item]:
        return self._items[start:stop]

    def find(self, item_id: str) -> Item | None:
        return self._by_id.get(item_id)


@dataclass
class Change:
    seq: int
    item: Item | None  # None: removed
    reason: str = "deleted"


@dataclass
class Page:
    items: list[Item | msgspec.Raw]  # Raw only from a RenderingBaseline
    next_position: int | None  # None: the round is complete


class Collection:
    """One delta-queryable set: a mail folder or a primary calendar."""

    def __init__(self, baseline: Baseline) -> None:
        self.baseline = baseline
        self.seq = 0
        self._log_seqs: list[int] = []
        self._log_ids: list[str] = []
        self._latest: dict[str, Change] = {}
        self._added: set[str] = set()
        self.epoch = 0  # bumped to invalidate every outstanding token
        self.expiry_mode = "gone"

    def current(self, item_id: str) -> Item | None:
        change = self._latest.get(item_id)
        if change is not None:
            return change.item
        return self.baseline.find(item_id)

    def put(self, item: Item) -> None:
        item_id = str(item["id"])
        if item_id not in self._latest and self.baseline.find(item_id) is None:
            self._added.add(item_id)
        self._record(item_id, Change(0, item))

    def remove(self, item_id: str, reason: str = "deleted") -> bool:
        if self.current(item_id) is None:
            return False
        self._record(item_id, Change(0, None, reason))
        return True

    def expire(self, mode: str) -> None:
        self.epoch += 1
        self.expiry_mode = mode

    def _record(self, item_id: str, change: Change) -> None:
        self.seq += 1
        change.seq = self.seq
        self._latest[item_id] = change
        self._log_seqs.append(self.seq)
        self._log_ids.append(item_id)

    def page(
        self,
        since: int | None,
        upto: int,
        position: int,
        size: int,
        keep: Callable[[Item], bool] | None = None,
        rendering: Rendering | None = None,
    ) -> Page:
        if since is None:
            fast = rendering is not None and keep is None
            if (
                fast
                and isinstance(self.baseline, RenderingBaseline)
                and position < len(self.baseline)
            ):
                assert rendering is not None
                return self._rendered_page(self.baseline, upto, position, size, rendering)
            return self._initial_page(upto, position, size, keep)
        return self._change_page(since, upto, position, size, keep)

    def _rendered_page(
        self, baseline: RenderingBaseline, upto: int, position: int, size: int, rendering: Rendering
    ) -> Page:
        stop = min(len(baseline), position + size)
        items: list[Item | msgspec.Raw] = []
        for item_id, raw in baseline.render(position, stop, rendering.fields, rendering.withheld):
            change = self._latest.get(item_id) if self._latest else None
            if change is None:
                items.append(raw)
            elif change.item is not None:
                items.append(change.item)
        return Page(items, stop if self._more_after(stop, upto) else None)

    def _more_after(self, stop: int, upto: int) -> bool:
        if stop < len(self.baseline):
            return True
        return bool(self._added) and bool(self._log_seqs) and self._log_seqs[0] <= upto

    def _initial_page(
        self, upto: int, position: int, size: int, keep: Callable[[Item], bool] | None
    ) -> Page:
        base_len = len(self.baseline)
        items: list[Item | msgspec.Raw] = []
        if position < base_len:
            stop = min(base_len, position + size)
            for item in self.baseline.items(position, stop):
                # Changed items are served in their current state; a change made
                # during the round shows up again in the next one (Graph repeats too).
                change = self._latest.get(item["id"]) if self._latest else None
                current = item if change is None else change.item
                if current is not None and (keep is None or keep(current)):
                    items.append(current)
            return Page(items, stop if self._more_after(stop, upto) else None)
        log_index = position - base_len
        stop = min(len(self._log_ids), log_index + size)
        for j in range(log_index, stop):
            item_id = self._log_ids[j]
            change = self._latest[item_id]
            if item_id not in self._added or change.seq != self._log_seqs[j] or change.seq > upto:
                continue
            if change.item is not None and (keep is None or keep(change.item)):
                items.append(change.item)
        done = stop >= len(self._log_ids) or self._log_seqs[stop] > upto
        return Page(items, None if done else base_len + stop)

    def _change_page(
        self,
        since: int,
        upto: int,
        position: int,
        size: int,
        keep: Callable[[Item], bool] | None,
    ) -> Page:
        start = max(position, bisect.bisect_right(self._log_seqs, since))
        stop = min(len(self._log_ids), start + size)
        items: list[Item | msgspec.Raw] = []
        for j in range(start, stop):
            if self._log_seqs[j] > upto:
                stop = j
                break
            change = self._latest[self._log_ids[j]]
            if change.seq != self._log_seqs[j]:
                continue  # superseded by a later change; that one is served instead
            if change.item is None:
                items.append({"id": self._log_ids[j], "@removed": {"reason": change.reason}})
            elif keep is None or keep(change.item):
                items.append(change.item)
        done = stop >= len(self._log_ids) or self._log_seqs[stop] > upto
        return Page(items, None if done else stop)
