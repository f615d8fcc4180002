"""RAPPORT_EXCLUDED_USERS is one setting: the worker (`Settings`) and the web app
(`web.settings.excluded_users`, which must start whatever the worker's other settings
say) read the same value the same way, from the environment or from .env."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from web.settings import excluded_users
from worker.settings import Settings

RAW = " u-ada , ben@contoso.com,, ,CHEN@Contoso.com "
PARSED = ("u-ada", "ben@contoso.com", "CHEN@Contoso.com")


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A working directory without .env and no RAPPORT_* variable inherited."""
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("RAPPORT_")]:
        monkeypatch.delenv(name)
    return tmp_path


def test_both_read_the_variable_as_the_same_list(
    no_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAPPORT_EXCLUDED_USERS", RAW)
    assert Settings().excluded_users == PARSED
    assert excluded_users() == PARSED


def test_both_read_it_from_the_env_file(no_env: Path) -> None:
    (no_env / ".env").write_text(f"RAPPORT_EXCLUDED_USERS={RAW.strip()}\n", encoding="utf-8")
    assert Settings().excluded_users == PARSED
    assert excluded_users() == PARSED


def test_unset_is_nobody_for_both(no_env: Path) -> None:
    assert Settings().excluded_users == ()
    assert excluded_users() == ()


def test_the_web_app_reads_it_whatever_the_workers_other_settings_say(
    no_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAPPORT_EXCLUDED_USERS", RAW)
    monkeypatch.setenv("RAPPORT_SYNC_INTERVAL_SECONDS", "soon")
    with pytest.raises(ValidationError, match="sync_interval_seconds"):
        Settings()
    assert excluded_users() == PARSED
