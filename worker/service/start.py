"""Start-up of the worker: its engine and name, waiting for the database, the schema check."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from storage import lease_store, migrate
from storage.engine import create_store_engine, normalise_url, sqlite_file
from worker.failures import no_store_error
from worker.log import get_logger
from worker.settings import Settings

log = get_logger("rapport.worker")
APPLICATION_NAME = "rapport-worker"
# The database's retry policy at start-up: jittered backoff up to 5 s a wait.
DATABASE_WAIT = wait_exponential_jitter(multiplier=0.5, max=5.0)
UNREACHABLE = (sa.exc.OperationalError, sa.exc.InterfaceError)


def replica_name(settings: Settings) -> str:
    return settings.replica_id or f"{socket.gethostname()}-{os.getpid()}"


def service_engine(settings: Settings, replica: str) -> Engine:
    """The store's engine; on PostgreSQL its sessions carry the replica's application_name,
    so an operator sees in pg_stat_activity which replica holds which connection."""
    url = normalise_url(settings.database_url)
    if url.get_backend_name() == "postgresql":
        url = url.update_query_dict({"application_name": f"{APPLICATION_NAME} {replica}"[:63]})
    return create_store_engine(url.render_as_string(hide_password=False))


def require_store(settings: Settings) -> None:
    """Refuse a SQLite path that holds no store, before anything opens it (SQLite would
    create an empty file there); RAPPORT_AUTO_MIGRATE=true creates and migrates it."""
    path = sqlite_file(settings.database_url)
    if path is None or settings.auto_migrate or path.exists():
        return
    raise no_store_error(
        path,
        settings.database_url,
        url_set="database_url" in settings.model_fields_set,
        also="or start the worker with RAPPORT_AUTO_MIGRATE=true",
    )


def _probe(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def _log_wait(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    orig = getattr(error, "orig", None) or error
    reason = str(orig).strip().splitlines()[0] if orig else "unknown"
    log.warning(
        "waiting for the database",
        attempt=state.attempt_number,
        error=reason[:200],
        next_try_seconds=round(state.upcoming_sleep, 1),
    )


async def wait_for_database(
    engine: Engine, seconds: float, *, stop: Callable[[], bool] = lambda: False
) -> None:
    """Retry connecting for up to `seconds`, logged; the last error propagates (exit 4)."""

    def give_up(state: RetryCallState) -> bool:
        return stop() or (state.seconds_since_start or 0.0) >= seconds

    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(UNREACHABLE),
        stop=give_up,
        wait=DATABASE_WAIT,
        before_sleep=_log_wait,
        reraise=True,
    ):
        with attempt:
            await asyncio.to_thread(_probe, engine)


def prepare_schema(engine: Engine, *, auto_migrate: bool) -> None:
    """Migrate (when allowed) or refuse an out-of-date schema with the command to run."""
    if not auto_migrate:
        try:
            migrate.require_current(engine)
        except migrate.SchemaNotCurrentError as refusal:
            raise migrate.SchemaNotCurrentError(
                f"{refusal} (or start the worker with RAPPORT_AUTO_MIGRATE=true)"
            ) from None
        return
    before = migrate.current_revision(engine)
    if engine.dialect.name != "postgresql":
        migrate.upgrade(engine)
    else:
        # Replicas starting together: one migrates, the others wait and find it done.
        with engine.connect() as connection:
            lease_store.advisory_lock(connection, "migrate")
            connection.commit()
            try:
                migrate.upgrade(engine)
            finally:
                lease_store.advisory_unlock(connection, "migrate")
                connection.commit()
    after = migrate.current_revision(engine)
    if after != before:
        log.info("schema migrated", **{"from": before, "to": after})
