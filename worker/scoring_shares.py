"""Records split into shares that can be scored apart, each with the interactions it needs.

A record's interactions are the ones with one of its people as an external
party, or "regarding" the record itself (scoring.scope). Records that share
a person (a contact, its account, the account's open deals) are linked, and
linked records always land in the same share, so a share's interactions are
exactly those touching its people and records: a process scoring a share
prepares and indexes only those, never the whole book. An interaction
between people of two shares goes to both.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scoring.model import Interaction, RecordRef, RecordScope


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


def route(interactions: Sequence[Interaction], shares: Sequence[Share]) -> list[list[Interaction]]:
    """Each share's interactions: those with one of its refs as an external party or
    as their "regarding" record, in the given order. Others reach no record."""
    share_of = {ref: index for index, share in enumerate(shares) for ref in share.refs}
    routed: list[list[Interaction]] = [[] for _ in shares]
    appends = [share.append for share in routed]
    # Loaded interactions share one external-party tuple per distinct set of
    # people (worker.interactions), so the shares of a tuple are worked out
    # once, keyed by its identity: hashing it would hash every Party again.
    # `interactions` holds every keyed tuple for the whole loop, so no
    # identity is reused by another tuple meanwhile.
    shares_of: dict[int, tuple[int, ...]] = {}
    for interaction in interactions:
        external = interaction.external
        targets = shares_of.get(id(external))
        if targets is None:
            found = {share_of[p.ref] for p in external if p.ref in share_of}
            targets = shares_of[id(external)] = tuple(sorted(found))
        regarding = interaction.regarding
        if regarding is not None:
            index = share_of.get(regarding)
            if index is not None and index not in targets:
                targets = (*targets, index)
        for index in targets:
            appends[index](interaction)
    return routed
