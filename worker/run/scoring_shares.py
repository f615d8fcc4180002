"""Records split into shares that can be scored apart, each with the rows it needs.

A record's interactions are the ones with one of its people as an external
party, or "regarding" the record itself (scoring.scope). Records that share
a person (a contact, its account, the account's open deals) are linked, and
linked records always land in the same share, so a share's interactions are
exactly those touching its people and records: a process scoring a share
picks those out of the book's raw rows (`Share.rows`) and decodes, prepares
and indexes only them, never the whole book. An interaction between people
of two shares goes to both.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from scoring.model import RecordRef, RecordScope
from storage.crm_records import FIELD_SEPARATOR, INTERACTION_COLUMNS, PARTY_SEPARATOR
from worker.run.interactions import InteractionRow

# Where routing looks in a raw row: INTERACTION_COLUMNS, then packed parties and their count.
REGARDING_TYPE = INTERACTION_COLUMNS.index("regarding_type")
REGARDING_ID = INTERACTION_COLUMNS.index("regarding_id")
PACKED, COUNT = len(INTERACTION_COLUMNS), len(INTERACTION_COLUMNS) + 1


@dataclass(frozen=True)
class Share:
    scopes: list[RecordScope]
    # The people and records whose interactions this share needs.
    refs: frozenset[RecordRef]

    def rows(self, rows: Iterable[InteractionRow]) -> Iterator[InteractionRow]:
        """The raw interaction rows this share needs, in the given order: those with one
        of its refs as an external party or as their "regarding" record.

        Each scoring process picks its own rows out of the whole book before
        decoding them, so that picking runs in parallel too; whom a packed
        party set reaches is read off its text once per distinct text.
        """
        refs = {(ref.type.value, ref.id) for ref in self.refs}
        # packed text -> (reaches this share, how many parties it spells out)
        reach: dict[str | None, tuple[bool, int]] = {None: (False, 0)}  # no parties
        for row in rows:
            packed = row[PACKED]
            known = reach.get(packed)
            if known is None:
                known = reach[packed] = _reach(packed, refs)
            reached, spelt_out = known
            count = row[COUNT]
            if (
                reached
                # An id holding the separator characters: only the party rows
                # can tell (worker.run.interactions reads them); scoring keeps only
                # what reaches the share's records.
                or (count and spelt_out != count)
                or (
                    row[REGARDING_ID] is not None
                    and (row[REGARDING_TYPE], row[REGARDING_ID]) in refs
                )
            ):
                yield row


def _reach(packed: str, refs: set[tuple[str, str]]) -> tuple[bool, int]:
    """(an external party of `packed` is one of `refs`, how many parties it holds)."""
    pieces = packed.split(PARTY_SEPARATOR)
    reached = False
    for piece in pieces:
        fields = piece.split(FIELD_SEPARATOR, 4)
        if len(fields) == 5 and fields[0] == "external" and (fields[1], fields[4]) in refs:
            reached = True
    return reached, len(pieces)


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


def needs(scope: RecordScope) -> frozenset[RecordRef]:
    return scope.people | {scope.record}


def plan_shares(scopes: Sequence[RecordScope], parts: int) -> list[Share]:
    """At most `parts` shares of about equal size; linked records stay together."""
    groups = _Groups()
    for scope in scopes:
        groups.join(needs(scope))
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
            refs |= needs(scope)
        heapq.heappush(lightest, (weight + sum(len(s.people) + 1 for s in group), index))
    return [Share(scopes_of, frozenset(refs)) for scopes_of, refs in shares]
