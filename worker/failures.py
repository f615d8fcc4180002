"""Turning failures into one line and an exit code, never a traceback.

Exit codes: 0 ok; 1 unexpected failure; 2 bad input (argument, setting value,
unknown record, invalid configuration); 3 consent not granted; 4 the database
is unreachable or its schema is not current; 5 (`run --once`) the Exchange
sync failed for every mailbox it tried, or before any (the CRM path still ran).
"""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy import exc as sa_exc

from storage.engine import DatabaseUrlError
from storage.migrate import SchemaNotCurrentError

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_NO_CONSENT, EXIT_DATABASE = 0, 1, 2, 3, 4
EXIT_EXCHANGE_FAILED = 5


class UserError(Exception):
    """A mistake the user can fix; the message says how."""

    exit_code = EXIT_BAD_INPUT


def settings_error_message(error: ValidationError) -> str:
    """Name the environment variable, the value and what is allowed."""
    parts = []
    for problem in error.errors():
        field = "_".join(str(part) for part in problem["loc"])
        variable = f"RAPPORT_{field.upper()}"
        value = problem.get("input")
        reason = problem["msg"].removeprefix("Value error, ")
        parts.append(f"{variable}={value!r}: {reason}")
    return "invalid configuration: " + "; ".join(parts)


def describe(error: BaseException, database: str) -> tuple[str, int]:
    """The message and exit code for a failure that reached the CLI."""
    if isinstance(error, UserError):
        return str(error), error.exit_code
    if isinstance(error, ValidationError):
        return settings_error_message(error), EXIT_BAD_INPUT
    if isinstance(error, DatabaseUrlError):
        return str(error), EXIT_BAD_INPUT
    if isinstance(error, SchemaNotCurrentError):
        return str(error), EXIT_DATABASE
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        return f"cannot use the database at {database}: {reason}", EXIT_DATABASE
    if isinstance(error, sa_exc.ProgrammingError):
        return (
            f"the database at {database} does not have Rapport's tables; run: rapport db upgrade",
            EXIT_DATABASE,
        )
    return f"unexpected failure: {type(error).__name__}: {error}", EXIT_FAILURE
