"""A failed export leaves no personal data on disk, and is audited (issue 15, item 7).

Real conditions, no stand-ins: a full disk is a file-size limit on the
`rapport` process (RLIMIT_FSIZE, so a write past it fails with EFBIG as a full
disk fails with ENOSPC); a read-only store is a SQLite file opened read-only
or a PostgreSQL database whose transactions are read-only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from storage.audit import record_event
from storage.engine import session_scope
from tests.compliance.scenario import DANA, NOW
from tests.worker.cli_runner import run_cli

CHECKOUT = Path(__file__).resolve().parents[2]
LIMIT = 256 * 1024  # bytes any file of the `rapport` process may reach; the export needs more
# Runs `rapport` with a file-size limit; SIGXFSZ ignored, a write past it fails with EFBIG.
LIMITED_RAPPORT = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.argv = ["rapport", *sys.argv[2:]]
from worker.cli.rapport import main
main()
"""


@pytest.fixture
def bulky(scored: Engine) -> Engine:
    """The scenario plus enough audit rows naming Dana that her export outgrows LIMIT."""
    with session_scope(scored) as session:
        for number in range(400):
            record_event(
                session=session,
                at=NOW,
                command="support",
                action="note",
                subject=DANA.addresses[0],
                details={"ticket": number, "note": f"{DANA.name} asked about her data. " * 25},
            )
    return scored


def _rapport(
    database_url: str, *args: str, limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", LIMITED_RAPPORT, str(limit), *args]
    if limit is None:
        command = [sys.executable, "-c", "from worker.cli.rapport import main; main()", *args]
    environment = {**os.environ, "RAPPORT_DATABASE_URL": database_url}
    return subprocess.run(
        command, cwd=CHECKOUT, env=environment, capture_output=True, text=True, timeout=120
    )


def _export_events(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT action, details FROM audit_event WHERE command = 'export' ORDER BY id")
        )
        return [
            {
                "action": action,
                "details": details if isinstance(details, dict) else json.loads(details),
            }
            for action, details in rows
        ]


def _left_in(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


@contextmanager
def _read_only(engine: Engine, database_url: str) -> Iterator[str]:
    """The URL of the same store, read-only for whoever opens it through that URL."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///file:{url.database}?mode=ro&uri=true"
        return
    name = url.database
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(
            sa.text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        )
    try:
        yield database_url
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(
                sa.text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
            )


def _one_line(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


def test_the_export_outgrows_the_limit(
    bulky: Engine,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The premise of the full-disk tests: without the limit, Dana's export is larger."""
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    for fmt in ("json", "csv"):
        out = tmp_path / fmt
        ran = run_cli(capsys, "export", "--subject", DANA.ref, "--format", fmt, "--out", str(out))

        assert ran.code == 0, ran.err
        assert max(path.stat().st_size for path in out.iterdir()) > LIMIT


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_full_disk_leaves_no_partial_file_and_is_audited(
    bulky: Engine, database_url: str, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / "export"
    out.mkdir()
    bulky.dispose()  # SQLite: no WAL of ours for the limited process to append to

    done = _rapport(
        database_url,
        "export",
        "--subject",
        DANA.ref,
        "--format",
        fmt,
        "--out",
        str(out),
        limit=LIMIT,
    )

    assert done.returncode == 2, done.stderr
    _one_line(done.stderr)
    assert "--out: cannot write" in done.stderr and "File too large" in done.stderr
    assert _left_in(out) == []  # neither the truncated file nor a temporary one
    failed = _export_events(bulky)[-1]
    assert failed["action"] == "subject_export_failed"
    assert failed["details"]["format"] == fmt
    assert "File too large" in failed["details"]["failure"]


def test_a_read_only_store_leaves_no_export_file(
    scored: Engine,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "export"
    before = _export_events(scored)
    with _read_only(scored, database_url) as read_only_url:
        monkeypatch.setenv("RAPPORT_DATABASE_URL", read_only_url)
        ran = run_cli(capsys, "export", "--subject", DANA.ref, "--out", str(out))

    assert ran.code == 4, ran.err
    _one_line(ran.err)
    assert "the audit log cannot be written" in ran.err and "no export file was left" in ran.err
    assert "read" in ran.err and "only" in ran.err  # "readonly database" / "read-only"
    assert _left_in(out) == []
    assert _export_events(scored) == before


def test_a_full_disk_on_a_read_only_store_says_the_failure_went_unrecorded(
    bulky: Engine, database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    out.mkdir()
    before = _export_events(bulky)
    bulky.dispose()
    with _read_only(bulky, database_url) as read_only_url:
        done = _rapport(
            read_only_url, "export", "--subject", DANA.ref, "--out", str(out), limit=LIMIT
        )

    assert done.returncode == 4, done.stderr
    _one_line(done.stderr)
    assert "File too large" in done.stderr
    assert "could not be recorded in the audit log either" in done.stderr
    assert _left_in(out) == []
    assert _export_events(bulky) == before
