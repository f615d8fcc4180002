"""The Exchange half of a pipeline tick: consent, data residency, delta sync.

Everything that can rule Exchange out (no credentials, a token failure,
missing consent, a 403 during sync, the Exchange switch) ends here with a
recorded state and reason; the tenant's relationships are then scored from
CRM data and nothing crashes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from consent.check import (
    GRANTED,
    ConsentOutcome,
    ProbeDenied,
    ProbeFailed,
    check_consent,
    not_configured,
)
from consent.credentials import CredentialConfigError, GraphApp, build_async_credential
from consent.data_location import LocationPolicy, excluded_for_unknown_residency
from consent.data_location import residency_hint as location_hint
from consent.permissions import required_roles
from graph_sync.context import SyncContext, SyncWindow
from graph_sync.exceptions import AccessDenied, GraphSyncError
from graph_sync.normalise import Normaliser
from graph_sync.retry import RetryPolicy
from graph_sync.tenant import Claim, MailboxScope, Progress, TenantOutcome, sync_tenant
from storage.directory import load_directory, normalise_address
from storage.engine import session_scope
from storage.mailbox_store import WITHDRAWN_CONSENT, record_consent, withdraw_tenant
from worker.failures import UserError
from worker.log import get_logger
from worker.settings import Settings

log = get_logger("rapport.exchange")
SYNC_FAILED = "sync_failed"  # the round failed before any mailbox (directory, groups)
# A mailbox that ends its round in one of these read nothing more this round. (All of
# them `consent_missing` is consent withdrawn: the tenant falls back to CRM data.)
FAILED_STATUSES = frozenset({"failed", "throttled", "consent_missing"})


@dataclass
class ExchangeSummary:
    state: str  # consent state, "switched_off" or SYNC_FAILED
    reason: str
    tenant: TenantOutcome | None = None
    consent: ConsentOutcome | None = None
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def failure(self) -> str | None:
        """Why the Exchange sync failed as a whole, or None. A run with one exits 5: it
        was meant to read Exchange and read nothing (the CRM path still ran)."""
        if self.state == SYNC_FAILED:
            return f"the Exchange sync failed before any mailbox was read: {self.reason}"
        mailboxes = self.tenant.mailboxes if self.tenant is not None else []
        if self.state != GRANTED or not mailboxes:
            return None
        failed = [m for m in mailboxes if m.status in FAILED_STATUSES]
        if len(failed) < len(mailboxes):
            return None
        statuses = ", ".join(f"{n} {status}" for status, n in sorted(self.by_status.items()))
        return f"every mailbox failed ({statuses}); first error: {failed[0].error}"


def round_figures(tenant: TenantOutcome) -> dict[str, Any]:
    """A round's figures for the run summary: the interactions Exchange added, changed
    and removed, the folders re-baselined (those whose stored link named another host
    among them), the mailboxes excluded because their data residency is unknown."""
    counters = [mailbox.counters for mailbox in tenant.mailboxes]
    return {
        "interactions": {
            "added": sum(c.added for c in counters),
            "updated": sum(c.updated for c in counters),
            "removed": sum(c.removed for c in counters),
        },
        "rebaselined_folders": sum(c.rebaselines for c in counters),
        "foreign_links": sum(c.foreign_links for c in counters),
        "residency_unknown": excluded_for_unknown_residency(tenant.decisions),
    }


def residency_hint(tenant: TenantOutcome) -> str | None:
    """What to set so that the mailboxes excluded for an unknown residency can be read
    (the wording `consent check` and `mailboxes list` use too)."""
    if tenant.policy is None:
        return None
    return location_hint(tenant.policy, excluded_for_unknown_residency(tenant.decisions))


def location_policy(settings: Settings) -> LocationPolicy:
    """The data-residency policy the settings declare (what a run decides mailboxes by)."""
    return LocationPolicy(
        frozenset(settings.allowed_data_locations),
        settings.tenant_data_location,
        settings.exclude_unknown_location,
    )


def client_secret(settings: Settings) -> str | None:
    if settings.client_secret is not None:
        return settings.client_secret.get_secret_value()
    if settings.client_secret_file is None:
        return None
    try:
        return settings.client_secret_file.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise UserError(
            f"RAPPORT_CLIENT_SECRET_FILE: {str(settings.client_secret_file)!r} cannot be read "
            f"({error.strerror}); expected a file holding the client secret"
        ) from None


def graph_app(settings: Settings) -> GraphApp | None:
    if not settings.graph_configured:
        return None
    assert settings.tenant_id is not None and settings.client_id is not None
    password = settings.client_certificate_password
    return GraphApp(
        tenant_id=settings.tenant_id,
        client_id=settings.client_id,
        authority_host=settings.authority_host,
        secret=client_secret(settings),
        certificate_path=settings.client_certificate_path,
        certificate_password=password.get_secret_value() if password else None,
        workload_identity=settings.use_workload_identity,
    )


def _record(
    engine: Engine, tenant_id: str, outcome: ConsentOutcome, now: datetime, command: str
) -> None:
    with session_scope(engine) as session:
        record_consent(
            session=session,
            tenant_id=tenant_id,
            state=outcome.state,
            reason=outcome.reason,
            granted=outcome.granted,
            missing=outcome.missing,
            at=now,
            command=command,
        )
        # Withdrawn consent takes the tenant's Exchange data with it. A token failure
        # only pauses the sync: what was read stays until the next good round.
        if outcome.state in WITHDRAWN_CONSENT:
            withdraw_tenant(
                session=session,
                tenant_id=tenant_id,
                reason=outcome.reason,
                at=now,
                command=command,
            )


def graph_client(settings: Settings, credential: Any) -> Any:
    from graph_sync.client import GraphClient, Limits

    limits = Limits(page_size=settings.page_size, global_concurrency=settings.global_concurrency)
    return GraphClient(credential, settings.graph_base_url, limits)


async def probe_directory(client: Any) -> None:
    """One small call that needs User.Read.All: proves the grant is real."""
    try:
        await client.send(client.users_request(1))
    except AccessDenied as denial:
        raise ProbeDenied(denial.code, "GET /users refused") from None
    except GraphSyncError as failure:
        raise ProbeFailed(f"GET /users: {failure}") from None


async def check_tenant_consent(
    engine: Engine, settings: Settings, now: datetime, *, command: str
) -> ConsentOutcome:
    required = required_roles(
        group_scope=settings.mailbox_group_id is not None or bool(settings.excluded_groups)
    )
    try:
        app = graph_app(settings)
        if app is None:
            return not_configured("RAPPORT_TENANT_ID and RAPPORT_CLIENT_ID are not set", required)
        credential = build_async_credential(app)
    except (CredentialConfigError, UserError) as error:
        outcome = not_configured(str(error), required)
        assert settings.tenant_id is not None  # graph_app only fails once it is configured
        _record(engine, settings.tenant_id, outcome, now, command)
        return outcome
    client = graph_client(settings, credential)
    try:
        outcome = await check_consent(credential, lambda: probe_directory(client), required)
    finally:
        await client.aclose()
        await credential.close()
    _record(engine, app.tenant_id, outcome, now, command)
    return outcome


def _context(engine: Engine, settings: Settings, client: Any, now: datetime) -> SyncContext:
    with session_scope(engine) as session:
        directory = load_directory(session=session)
    domains = {d.lower() for d in settings.internal_domains}
    domains |= {
        address.rpartition("@")[2]
        for address, ref in directory.by_address.items()
        if ref[0] == "system_user"
    }
    # Never read further back than interactions are kept: a (re-)baseline would
    # otherwise bring back what the retention purge removed.
    retained = settings.retention_interaction_days
    window = SyncWindow(
        now=now,
        mail_since=now - timedelta(days=min(settings.backfill_days, retained)),
        calendar_start=now - timedelta(days=min(settings.calendar_past_days, retained)),
        calendar_end=now + timedelta(days=settings.calendar_future_days),
    )
    return SyncContext(
        client=client,
        engine=engine,
        normaliser=Normaliser(directory, frozenset(domains), now - timedelta(days=retained)),
        window=window,
        policy=RetryPolicy(settings.retry_attempts, settings.retry_max_wait_seconds),
        mailbox_concurrency=settings.mailbox_concurrency,
        excluded_folders=settings.excluded_mail_folders,
    )


async def exchange_round(
    engine: Engine,
    settings: Settings,
    now: datetime,
    *,
    enabled: bool,
    claim: Claim | None = None,
    stopping: asyncio.Event | None = None,
    progress: Progress | None = None,
) -> ExchangeSummary:
    if not enabled:
        return ExchangeSummary("switched_off", "switch.exchange_data_source is off")
    consent = await check_tenant_consent(engine, settings, now, command="run")
    if consent.state != GRANTED:
        if settings.graph_configured:
            log.warning(
                "tenant scored from CRM data",
                tenant=settings.tenant_id,
                consent=consent.state,
                reason=consent.reason,
            )
        return ExchangeSummary(consent.state, consent.reason, consent=consent)
    app = graph_app(settings)
    assert app is not None  # the consent check passed, so the app is configured
    try:
        tenant = await _sync(engine, settings, app, now, claim, stopping, progress)
    except AccessDenied as denial:
        return _revoked(engine, app, consent, now, f"directory read refused during sync: {denial}")
    except GraphSyncError as failure:
        # The directory could not be listed (throttled, unreachable): nothing was
        # synced this round, stored data stays, the next tick tries again.
        log.warning("Exchange round failed", tenant=app.tenant_id, error=str(failure))
        return ExchangeSummary(SYNC_FAILED, f"{type(failure).__name__}: {failure}", consent=consent)
    summary = ExchangeSummary(GRANTED, consent.reason, tenant=tenant, consent=consent)
    for mailbox in tenant.mailboxes:
        summary.by_status[mailbox.status] = summary.by_status.get(mailbox.status, 0) + 1
    denied = summary.by_status.get("consent_missing", 0)
    if denied and denied == len(tenant.mailboxes):
        # Every mailbox refused: consent was withdrawn. (Some refused, others read: an
        # application access policy scopes the app; only those mailboxes fall back.)
        first = next(m.error for m in tenant.mailboxes if m.status == "consent_missing")
        revoked = _revoked(engine, app, consent, now, f"403 during sync: {first}")
        summary.state, summary.reason = revoked.state, revoked.reason
    if summary.failure is not None:
        log.warning(
            "Exchange round failed for every mailbox",
            tenant=app.tenant_id,
            failure=summary.failure,
        )
    return summary


def _revoked(
    engine: Engine, app: GraphApp, consent: ConsentOutcome, now: datetime, reason: str
) -> ExchangeSummary:
    revoked = ConsentOutcome("revoked", reason, consent.granted, [], consent.broader)
    _record(engine, app.tenant_id, revoked, now, "run")
    log.warning(
        "consent withdrawn during sync; tenant scored from CRM data",
        tenant=app.tenant_id,
        reason=reason,
    )
    return ExchangeSummary(revoked.state, reason, consent=revoked)


async def _sync(
    engine: Engine,
    settings: Settings,
    app: GraphApp,
    now: datetime,
    claim: Claim | None,
    stopping: asyncio.Event | None,
    progress: Progress | None,
) -> TenantOutcome:
    credential = build_async_credential(app)
    client = graph_client(settings, credential)
    try:
        ctx = _context(engine, settings, client, now)
        if stopping is not None:
            ctx.stopping = stopping
        return await sync_tenant(
            ctx,
            app.tenant_id,
            directory=ctx.normaliser.directory,
            policy=location_policy(settings),
            scope=MailboxScope(
                excluded=frozenset(normalise_address(u) for u in settings.excluded_users),
                group_id=settings.mailbox_group_id,
                excluded_groups=frozenset(settings.excluded_groups),
            ),
            concurrent_mailboxes=settings.concurrent_mailboxes,
            claim=claim,
            progress=progress,
        )
    finally:
        await client.aclose()
        await credential.close()
