"""What `rapport` hands every command through the typer context (`ctx.obj`): the
deployment settings, loaded once per invocation, and the store, opened at most once.

`main()` makes one `CliContext` per invocation and closes it at the end; the root
callback makes sure there is one (`ctx.ensure_object`), and each command reads it
with `cli_of(ctx)` and hands values down. The settings load at their first use, in
the command's own work: `rapport --help`, a subcommand's `--help` and `rapport
emulator` work whatever the environment holds, and a wrong setting stops every
command that reads them before anything is read or written (one line, exit 2:
worker/failures.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from worker.failures import no_store_error

if TYPE_CHECKING:
    # At run time each is imported where it is first needed: `rapport --help` and
    # `--version` load none of the store, the settings or logging (tests/test_cli_startup.py).
    from sqlalchemy.engine import Engine

    from worker.settings import Settings


class CliContext:
    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._store: Engine | None = None

    @property
    def settings(self) -> Settings:
        """The deployment settings, read from the environment once; logging follows them."""
        if self._settings is None:
            from worker.log import configure_logging
            from worker.settings import Settings

            loaded = Settings()
            configure_logging(loaded.log_level, loaded.log_format)
            self._settings = loaded
        return self._settings

    def store(self) -> Engine:
        """The store of an existing installation: a missing SQLite file is refused, not created.

        Only `rapport db upgrade` creates a store; any other command opening a
        path that holds none (a typo, the wrong working directory) would leave an
        empty `rapport.db` behind and then complain that its schema is not current.
        """
        if self._store is None:
            from storage.engine import create_store_engine, sqlite_file

            url = self.settings.database_url
            path = sqlite_file(url)
            if path is not None and not path.exists():
                raise no_store_error(
                    path, url, url_set="database_url" in self.settings.model_fields_set
                )
            self._store = create_store_engine(url)
        return self._store

    def current_store(self) -> Engine:
        """`store()` with its schema checked: what every command that reads or writes uses."""
        from storage import migrate

        store = self.store()
        migrate.require_current(store)
        return store

    def database_label(self) -> str:
        """The store as an error message may name it (no password)."""
        from storage.engine import redacted

        try:
            return redacted(self.settings.database_url)
        except Exception:  # noqa: BLE001 - only used to word another error
            return "<unconfigured database>"

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None


def cli_of(ctx: typer.Context) -> CliContext:
    """The invocation's CliContext (the root callback made sure there is one)."""
    return ctx.ensure_object(CliContext)
