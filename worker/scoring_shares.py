"""Records split into shares that can be scored apart, each with the rows it needs.

A record's interactions are the ones with one of its people as an external
party, or "regarding" the record itself (scoring.scope). Records that share
a person (a contact, its account, the account's open deals) are linked, and
linked records always land in the same share, so a share's interactions are
exactly those touching its people and records: a process scoring a share
decodes, prepares and indexes only those, never the whole book. An
interaction between people of two shares goes to both.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from scoring.model import RecordRef, RecordScope
from storage.crm_records import FIELD_SEPARATOR, INTERACTION_COLUMNS, PARTY_SEPARATOR

# Where routing looks in a raw row: INTERACTION_COLUMNS, then packed parties and their count.
REGARDING_TYPE = INTERACTION_COLUMNS.index("regarding_type")
REGARDING_ID = INTERACTION_COLUMNS.index("regarding_id")
PACKED, COUNT = len(INTERACTION_COLUMNS), len(INTERACTION_COLUMNS) + 1


@dataclass(frozen=True)
class Share:
    scopes: list[RecordScope]
    # The people and records whose interactions this share needs.
    refs: frozenset[RecordRef]


class _Groups:
    """Union-find over record references."""

    def __init__(self) -> None:
        self._parent: dict[RecordRef, RecordRef] = {}

    def find(self, ref: RecordRef) -> RecordRef:
        parent = self._parent.setdefault(ref, ref)
        while parent != ref:
            grandparent = self._parent[parent]
            self._parent[ref] = grandparent  # path halving keeps the trees flat
            ref, parent = parent, grandparent
        return ref

    def join(self, refs: Iterable[RecordRef]) -> RecordRef:
        refs = iter(refs)
        root = self.find(next(refs))
        for ref in refs:
            other = self.find(ref)
            if other != root:
                self._parent[other] = root
        return root


def _needs(scope: RecordScope) -> frozenset[RecordRef]:
    return scope.people | {scope.record}


def plan_shares(scopes: Sequence[RecordScope], parts: int) -> list[Share]:
    """At most `parts` shares of about equal size; linked records stay together."""
    groups = _Groups()
    for scope in scopes:
        groups.join(_needs(scope))
    members: dict[RecordRef, list[RecordScope]] = {}
    for scope in scopes:
        members.setdefault(groups.find(scope.record), []).append(scope)
    # Biggest group first onto the lightest share: a greedy balance by the
    # number of people (a fair proxy for interactions, which are not read yet).
    weighted = sorted(
        members.values(),
        key=lambda group: (-sum(len(s.people) + 1 for s in group), group[0].record),
    )
    count = max(1, min(parts, len(weighted)))
    shares: list[tuple[list[RecordScope], set[RecordRef]]] = [([], set()) for _ in range(count)]
    lightest = [(0, index) for index in range(count)]
    for group in weighted:
        weight, index = heapq.heappop(lightest)
        scopes_of, refs = shares[index]
        scopes_of.extend(group)
        for scope in group:
            refs |= _needs(scope)
        heapq.heappush(lightest, (weight + sum(len(s.people) + 1 for s in group), index))
    return [Share(scopes_of, frozenset(refs)) for scopes_of, refs in shares]


def route(rows: Sequence[tuple[Any, ...]], shares: Sequence[Share]) -> list[list[tuple[Any, ...]]]:
    """Each share's raw interaction rows (worker.interactions.fetch_interaction_rows):
    those with one of its refs as an external party or as their "regarding" record,
    in the given order. Others reach no record.

    Rows are routed before they are decoded, so that each scoring process
    decodes only its own share: the shares of a packed party set are read off
    the packed text, once per distinct text.
    """
    share_of = {(ref.type.value, ref.id): index for index, share in enumerate(shares)
                for ref in share.refs}  # fmt: skip
    everywhere = tuple(range(len(shares)))
    routed: list[list[tuple[Any, ...]]] = [[] for _ in shares]
    appends = [share.append for share in routed]
    # packed text -> (its shares, how many parties it spells out)
    shares_of: dict[str | None, tuple[tuple[int, ...], int]] = {None: ((), 0)}  # no parties
    for row in rows:
        packed, count = row[PACKED], row[COUNT]
        known = shares_of.get(packed)
        if known is None:
            known = shares_of[packed] = _shares_of(packed, share_of)
        targets, spelt_out = known
        if count and spelt_out != count:
            # An id holding the separator characters: the process decoding the
            # row reads its party rows instead (worker.interactions), so let
            # every share have it; scoring keeps only what reaches its records.
            targets = everywhere
        regarding = share_of.get((row[REGARDING_TYPE], row[REGARDING_ID]))
        if regarding is not None and regarding not in targets:
            targets = (*targets, regarding)
        for index in targets:
            appends[index](row)
    return routed


def _shares_of(packed: str, share_of: dict[tuple[str, str], int]) -> tuple[tuple[int, ...], int]:
    """(the shares of the external parties in `packed`, how many parties it holds)."""
    pieces = packed.split(PARTY_SEPARATOR)
    found = set()
    for piece in pieces:
        fields = piece.split(FIELD_SEPARATOR, 4)
        if len(fields) == 5 and fields[0] == "external":
            index = share_of.get((fields[1], fields[4]))
            if index is not None:
                found.add(index)
    return tuple(sorted(found)), len(pieces)
