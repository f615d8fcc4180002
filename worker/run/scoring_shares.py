"""Records split into shares that can be scored apart.

A record's interactions are the ones with one of its people as an external
party, or "regarding" the record itself (scoring.scope). Records that share
a person (a contact, its account, the account's open deals) are linked, and
linked records always land in the same share, so a share's people are
nobody else's: each process scores its share from the book's columns and
ranks the introducers of its own people (`Share.refs`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scoring.model import RecordRef, RecordScope


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
