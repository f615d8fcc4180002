"""The Dataverse connector inside a tick: pull before scoring, push after write-back.

With RAPPORT_CRM=dataverse the tick first pulls Dataverse into the contract tables
(crm.dataverse.pull), scores as always, then pushes the health that changed
(crm.dataverse.push). A connector failure is one line in the run summary: the tick
still scores what the store holds, and the next tick resumes from the committed cursors
and retries what was not pushed.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from consent.credentials import CredentialConfigError
from crm.dataverse.connect import connected
from crm.dataverse.exceptions import DataverseError
from crm.dataverse.pull import Puller
from crm.dataverse.push import Pusher
from storage.dataverse_store import has_pushed_values
from worker.run.exchange import graph_app
from worker.settings import Settings

log = logging.getLogger(__name__)


def _app_and_url(settings: Settings) -> tuple[Any, str]:
    app = graph_app(settings)
    if app is None or settings.dataverse_url is None:
        raise CredentialConfigError(
            "RAPPORT_DATAVERSE_URL, RAPPORT_TENANT_ID and RAPPORT_CLIENT_ID must be set for "
            "RAPPORT_CRM=dataverse"
        )
    return app, settings.dataverse_url


async def pull_dataverse(engine: Engine, settings: Settings, *, now: datetime) -> dict[str, Any]:
    """Pull every table; the summary's `dataverse.pull` (or `failure`)."""
    try:
        app, url = _app_and_url(settings)
        async with connected(app, url, concurrency=settings.dataverse_concurrency) as client:
            puller = Puller(client, engine, now=now, page_size=settings.dataverse_page_size)
            report = await puller.pull()
            return {"pull": report.as_dict(), "pull_requests": client.counters.as_dict()}
    except (DataverseError, CredentialConfigError) as error:
        log.warning("Dataverse pull failed: %s", error)
        return {"failure": f"pull: {error}"}


async def push_dataverse(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    clear_all: bool = False,
    only: set[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Push what changed (of `only`, when given; every Rapport column emptied with
    `clear_all`)."""
    try:
        app, url = _app_and_url(settings)
        async with connected(app, url, concurrency=settings.dataverse_concurrency) as client:
            pusher = Pusher(
                client,
                engine,
                prefix=settings.dataverse_prefix,
                now=now,
                batch_size=settings.dataverse_push_batch_size,
            )
            report = await pusher.push(clear_all=clear_all, only=only)
            return {"push": report.as_dict(), "push_requests": client.counters.as_dict()}
    except (DataverseError, CredentialConfigError) as error:
        log.warning("Dataverse push failed: %s", error)
        return {"failure": f"push: {error}"}


async def clear_switched_off(
    engine: Engine, settings: Settings, *, now: datetime
) -> dict[str, Any] | None:
    """The connector is off (RAPPORT_CRM is not dataverse) but values it pushed are still on
    Dataverse records: empty them, unless RAPPORT_DATAVERSE_KEEP_LAST_VALUES=true. Needs
    RAPPORT_DATAVERSE_URL still set; nothing to clear costs one query and no request."""
    if settings.dataverse_url is None or settings.dataverse_keep_last_values:
        return None
    with Session(engine) as session:
        if not has_pushed_values(session=session):
            return None
    return {"switched_off": await push_dataverse(engine, settings, now=now, clear_all=True)}


async def before_scoring(
    engine: Engine, settings: Settings, *, now: datetime
) -> dict[str, Any] | None:
    """A tick's first step: pull (RAPPORT_CRM=dataverse), or clear what a switched-off
    connector left behind; None when the connector has nothing to do."""
    if settings.crm != "dataverse":
        return await clear_switched_off(engine, settings, now=now)
    return await pull_dataverse(engine, settings, now=now)


async def after_scoring(
    engine: Engine, settings: Settings, pulled: dict[str, Any] | None, *, now: datetime
) -> dict[str, Any] | None:
    """A tick's last step: push what changed, when this tick pulled (the summary grows)."""
    if pulled is not None and "pull" in pulled:
        pulled.update(await push_dataverse(engine, settings, now=now))
    return pulled
