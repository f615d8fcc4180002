"""The settings reach every command through the typer context, read at their first use
(worker/cli/context.py): help needs none, and a command that needs them refuses a wrong
one in one line, exit 2, before it opens anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.worker.cli_runner import run_cli


@pytest.fixture
def wrong_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    store = tmp_path / "rapport.db"
    monkeypatch.setenv("RAPPORT_DATABASE_URL", f"sqlite:///{store}")
    monkeypatch.setenv("RAPPORT_PAGE_SIZE", "5")
    return store


@pytest.mark.parametrize("command", [("db", "upgrade"), ("run",), ("export",), ("worker",)])
def test_help_needs_no_settings(
    wrong_setting: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    shown = run_cli(capsys, *command, "--help")

    assert (shown.code, shown.err) == (0, "")
    assert "Usage: rapport " + " ".join(command) in shown.out


@pytest.mark.parametrize("command", [("db", "upgrade"), ("settings", "show"), ("worker",)])
def test_a_wrong_setting_stops_a_command_in_one_line_before_it_opens_anything(
    wrong_setting: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    refused = run_cli(capsys, *command)

    assert refused.code == 2 and refused.out == ""
    assert refused.err.startswith("rapport: invalid configuration: RAPPORT_PAGE_SIZE='5': ")
    assert len(refused.err.splitlines()) == 1
    assert not wrong_setting.exists()
