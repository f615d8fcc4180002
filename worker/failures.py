"""Turning failures into one line and an exit code, never a traceback.

Exit codes: 0 ok; 1 unexpected failure; 2 bad input (argument, setting value,
unknown record, invalid configuration); 3 consent not granted; 4 the database
is unreachable, unusable (not a database, read-only) or its schema is not
current; 5 (`run --once`) the Exchange sync failed for every mailbox it tried,
or before any, a token Entra refused included (the CRM path still ran); 6
(`run --once`) another run held the store longer than RAPPORT_RUN_WAIT_SECONDS
(worker/run/lock.py).

No message built here carries a secret: a configuration error names the
setting and what is wrong with it, and shows the value only for settings that
hold no secret (a URL's password is masked).

Every command imports this module for its exit codes and `UserError`; the
store's modules (SQLAlchemy, alembic) and pydantic are imported only by the
functions that describe a failure, so importing it costs nothing
(tests/test_cli_startup.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_NO_CONSENT, EXIT_DATABASE = 0, 1, 2, 3, 4
EXIT_EXCHANGE_FAILED = 5  # run --once: Exchange failed for every mailbox (README)
HIDDEN = "(value hidden)"
# A URL's password: from the colon after the user name to the last "@", masked as a
# whole, so a password with "@" or "/" in it cannot leak in parts.
URL_PASSWORD = re.compile(r"://([^:/@]*):.*@")
QUERY_PASSWORD = re.compile(r"(password=)[^&'\s]*", re.IGNORECASE)  # libpq takes ?password=


class UserError(Exception):
    """A mistake the user can fix; the message says how."""

    exit_code = EXIT_BAD_INPUT


class StoreError(UserError):
    """The store named by the user cannot be used as it is; the message names it."""

    exit_code = EXIT_DATABASE


def no_store_error(path: Path, url: str, *, url_set: bool, also: str = "") -> StoreError:
    """No store at the SQLite path the settings name: only `rapport db upgrade` creates
    one (README, exit codes), so a typo or the wrong working directory never leaves an
    empty `rapport.db` behind. `also`: another way to create it, where there is one."""
    from storage.engine import redacted

    origin = (
        f"RAPPORT_DATABASE_URL={redacted(url)}"
        if url_set
        else "RAPPORT_DATABASE_URL is not set: the default, in the working directory"
    )
    return StoreError(
        f"no Rapport store at {path} ({origin}); to create one, run: rapport db upgrade "
        f"({also or 'or point RAPPORT_DATABASE_URL at your store'})"
    )


def _secret_settings() -> frozenset[str]:
    # Derived from the model, so a secret setting added later is hidden without a list to update.
    from pydantic import SecretStr

    from worker.settings import Settings

    return frozenset(
        name
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation) or field.annotation is SecretStr
    )


def shown_value(setting: str, value: object) -> str:
    """The value of one setting as an error message may show it."""
    if setting in _secret_settings():
        return HIDDEN
    text = repr(value)
    return QUERY_PASSWORD.sub(r"\1***", URL_PASSWORD.sub(r"://\1:***@", text))


def settings_error_message(error: ValidationError) -> str:
    """Name each environment variable and what is wrong with it, never a secret.

    A model-level check (one credential, jitter within the interval) has no
    single field: pydantic hands it every raw input, secrets included, so only
    its message, which names the settings, is shown.
    """
    parts = []
    for problem in error.errors(include_url=False):
        reason = problem["msg"].removeprefix("Value error, ")
        if not problem["loc"]:
            parts.append(reason)
            continue
        field = str(problem["loc"][0])  # an item of a list setting is still that setting
        shown = shown_value(field, problem.get("input"))
        parts.append(f"RAPPORT_{field.upper()}={shown}: {reason}")
    return "invalid configuration: " + "; ".join(parts)


def describe(error: BaseException, database: str) -> tuple[str, int]:
    """The message and exit code for a failure that reached the CLI."""
    from pydantic import ValidationError
    from sqlalchemy import exc as sa_exc

    from storage.engine import DatabaseUrlError, missing_tables, store_unusable_reason
    from storage.migrate import SchemaNotCurrentError

    if isinstance(error, UserError):
        return str(error), error.exit_code
    if isinstance(error, ValidationError):
        return settings_error_message(error), EXIT_BAD_INPUT
    if isinstance(error, DatabaseUrlError):
        return str(error), EXIT_BAD_INPUT
    if isinstance(error, SchemaNotCurrentError):
        return str(error), EXIT_DATABASE
    if isinstance(error, sa_exc.DBAPIError) and missing_tables(error):
        return (
            f"the database at {database} does not have Rapport's tables; run: rapport db upgrade",
            EXIT_DATABASE,
        )
    reason = store_unusable_reason(error)
    if reason is not None:
        return f"cannot use the database at {database}: {reason}", EXIT_DATABASE
    # The first line only: a database error goes on with the SQL and its parameters.
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"unexpected failure: {type(error).__name__}: {first}", EXIT_FAILURE
