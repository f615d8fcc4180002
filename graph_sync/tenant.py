"""A tenant's round: list the directory, decide each mailbox, sync the eligible ones.

Decisions, in order: a user without mail is not a mailbox, and an erased
colleague (storage.suppression) is not even recorded; a user excluded by
configuration (by id, address or UPN, or as a transitive member of an
excluded group), outside the configured mailbox group (its transitive
members), or matching no CRM system user is out of scope; a mailbox whose
data residency is not allowed is excluded. Group memberships are listed
first, so only the rest is ever requested from Graph. Every decision and its
reason is stored on the mailbox row, and a mailbox newly ruled out loses
what was collected from it in the same round (storage.mailbox_store).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

from consent.data_location import LocationPolicy, decide_location
from graph_sync.context import SyncContext, SyncCounters
from graph_sync.mailbox import MailboxOutcome, sync_mailbox
from graph_sync.wire import USER, USER_PAGE, User
from storage.directory import Directory, normalise_address
from storage.engine import session_scope
from storage.mailbox_store import MailboxDecision, save_decisions

log = logging.getLogger("rapport.graph_sync")
USERS_PER_PAGE = 999


Claim = Callable[[list[str]], Awaitable[list[str]]]
Progress = Callable[[str, int, int | None], None]  # stage, done, total


@dataclass(frozen=True)
class MailboxScope:
    excluded: frozenset[str] = frozenset()  # ids, mail addresses or UPNs (normalised)
    group_id: str | None = None  # only this group's (transitive) members; None = everyone
    group_members: frozenset[str] | None = None  # user ids, listed at the start of the round
    excluded_groups: frozenset[str] = frozenset()  # group ids whose members are never read
    excluded_members: frozenset[str] = frozenset()  # their user ids, listed at the start


@dataclass
class TenantOutcome:
    tenant_id: str
    policy: LocationPolicy | None = None  # the residency policy the decisions were taken under
    decisions: list[MailboxDecision] = field(default_factory=list)
    mailboxes: list[MailboxOutcome] = field(default_factory=list)
    malformed_users: int = 0
    counters: SyncCounters = field(default_factory=SyncCounters)


async def list_users(ctx: SyncContext, tenant_id: str, outcome: TenantOutcome) -> list[User]:
    first = functools.partial(ctx.client.users_request, USERS_PER_PAGE)
    return [
        user async for user in _directory(ctx, tenant_id, outcome, first, ctx.client.users_page)
    ]


async def list_group_members(
    ctx: SyncContext, tenant_id: str, group_id: str, outcome: TenantOutcome
) -> frozenset[str]:
    """Ids of the users in the mailbox group, nested groups included; fully paged."""
    first = functools.partial(ctx.client.group_users_request, group_id, USERS_PER_PAGE)
    following = functools.partial(ctx.client.group_users_page, group_id)
    return frozenset(
        [user.id async for user in _directory(ctx, tenant_id, outcome, first, following)]
    )


async def _directory(
    ctx: SyncContext,
    tenant_id: str,
    outcome: TenantOutcome,
    first: Callable[[], Any],
    following: Callable[[str], Any],
) -> AsyncIterator[User]:
    """The users of a directory listing, all pages; a user Graph sends malformed is
    counted (`outcome.malformed_users`) and skipped."""
    pages = ctx.pages(
        f"directory:{tenant_id}", outcome.counters, first, following, USER_PAGE.decode
    )
    async for page in pages:
        for raw in page.value:
            try:
                user = USER.decode(raw)
            except msgspec.ValidationError:
                outcome.malformed_users += 1
                continue
            yield user


async def resolve_groups(
    ctx: SyncContext, tenant_id: str, scope: MailboxScope, outcome: TenantOutcome
) -> MailboxScope:
    """The scope with its groups' members listed. A group that cannot be listed fails the
    round before any mailbox is read: guessing who is excluded would read an opted-out one."""
    members = scope.group_members
    if scope.group_id is not None:
        members = await list_group_members(ctx, tenant_id, scope.group_id, outcome)
    excluded: set[str] = set()
    for group_id in sorted(scope.excluded_groups):
        excluded |= await list_group_members(ctx, tenant_id, group_id, outcome)
    return replace(scope, group_members=members, excluded_members=frozenset(excluded))


def _out_of_scope(user: User, scope: MailboxScope) -> str | None:
    names = {
        user.id.lower(),
        normalise_address(user.mail or ""),
        normalise_address(user.userPrincipalName or ""),
    }
    if names & scope.excluded:
        return "excluded by configuration"
    if user.id in scope.excluded_members:
        return "member of an excluded group"
    if scope.group_members is not None and user.id not in scope.group_members:
        return "not a member of the configured mailbox group"
    return None


def decide_mailbox(
    user: User, tenant_id: str, directory: Directory, policy: LocationPolicy, scope: MailboxScope
) -> MailboxDecision:
    system_user = directory.match_address(user.mail)
    system_user_id = system_user[1] if system_user and system_user[0] == "system_user" else None
    geo = decide_location(policy, user.preferredDataLocation)
    reason = _out_of_scope(user, scope)
    if reason is None and system_user_id is None:
        reason = "no CRM system user has this address"
    if reason is not None:
        return MailboxDecision(
            user.id, tenant_id, system_user_id, geo.geo, False, reason, "out_of_scope"
        )
    if not geo.allowed:
        return MailboxDecision(
            user.id, tenant_id, system_user_id, geo.geo, False, geo.reason, "location_excluded"
        )
    return MailboxDecision(user.id, tenant_id, system_user_id, geo.geo, True, geo.reason, None)


@contextmanager
def long_lived_state_frozen() -> Iterator[None]:
    """What exists when the round starts (imports, the directory, the client) is left
    out of the cyclic collector's full walks until the round ends.

    A round allocates pages of small objects, so the collector runs often, and each
    full walk would revisit those long-lived objects for no garbage. The pause of
    scoring (worker.run.gc_pause) does not fit here: a round of a large mailbox makes
    cyclic garbage (futures, exceptions) and must keep collecting it.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _save(ctx: SyncContext, decisions: list[MailboxDecision]) -> None:
    with session_scope(ctx.engine) as session:
        save_decisions(session=session, decisions=decisions, at=ctx.window.now)


async def sync_tenant(
    ctx: SyncContext,
    tenant_id: str,
    *,
    directory: Directory,
    policy: LocationPolicy,
    scope: MailboxScope,
    concurrent_mailboxes: int,
    claim: Claim | None = None,
    progress: Progress | None = None,
) -> TenantOutcome:
    """`claim` narrows the eligible mailboxes to those this replica holds a lease on;
    `progress` hears of each mailbox done (an interactive backfill shows a bar)."""
    outcome = TenantOutcome(tenant_id, policy)
    scope = await resolve_groups(ctx, tenant_id, scope, outcome)
    users = [
        user
        for user in await list_users(ctx, tenant_id, outcome)
        if user.mail and not directory.erased_address(user.mail, user.userPrincipalName)
    ]
    outcome.decisions = [decide_mailbox(u, tenant_id, directory, policy, scope) for u in users]
    await ctx.in_thread(_save, ctx, outcome.decisions)
    eligible = [d.id for d in outcome.decisions if d.status is None]
    if claim is not None:
        eligible = await claim(eligible)
    gate = asyncio.Semaphore(concurrent_mailboxes)
    done: list[str] = []

    async def one(mailbox_id: str) -> MailboxOutcome:
        async with gate:
            result = await sync_mailbox(ctx, mailbox_id)
        done.append(mailbox_id)
        if progress is not None:
            progress("exchange mailboxes", len(done), len(eligible))
        return result

    with long_lived_state_frozen():
        outcome.mailboxes = list(await asyncio.gather(*(one(m) for m in eligible)))
    return outcome
