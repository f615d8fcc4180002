"""Deployment settings: one typed object, read from RAPPORT_* variables and .env.

Only entry points (the CLI, the scheduler) build this; everything below them
receives plain values. Relationship-analytics admin settings are a different
thing: they live in the database (see worker/admin_settings.py).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage.engine import DEFAULT_DATABASE_URL, DatabaseUrlError, normalise_url
from storage.writeback import DEFAULT_BATCH_SIZE


def _geo_code(code: str) -> str:
    if not (len(code) == 3 and code.isalpha()):
        raise ValueError(f"{code!r} is not a Multi-Geo code; expected e.g. EUR, NAM, APC")
    return code.upper()


def _group_id(group: str) -> str:
    # Graph addresses groups by object id only; a display name would silently match nobody.
    try:
        return str(UUID(group))
    except ValueError:
        raise ValueError(
            f"{group!r} is not a group object id; expected Entra group ids (GUIDs), comma-separated"
        ) from None


def comma_list(value: object) -> object:
    """A list setting as the environment gives it: comma-separated, items stripped, empty
    ones dropped (`a, b,` is ("a", "b"))."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


# A list setting: comma-separated text, not JSON (NoDecode).
CommaList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(comma_list)]
RAPPORT_ENV = SettingsConfigDict(
    env_prefix="RAPPORT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
)


class ExcludedUsers(BaseSettings):
    """RAPPORT_EXCLUDED_USERS alone: for the web app, which must start whatever the
    worker's other settings say (web/settings.py). `Settings` extends it, so the
    setting is declared here only and both read it the same way."""

    model_config = RAPPORT_ENV
    excluded_users: CommaList = ()


REGRADE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
REGRADE_LONGEST = timedelta(days=7)
REGRADE_EVERY = timedelta(days=1)  # the default of RAPPORT_REGRADE_EVERY


def regrade_duration(raw: str) -> timedelta:
    """RAPPORT_REGRADE_EVERY: seconds, or a number with s, m, h or d; 0: every tick."""
    text = raw.strip().lower()
    unit = REGRADE_UNITS.get(text[-1:], None) if text else None
    number = text[:-1] if unit is not None else text
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= REGRADE_LONGEST.total_seconds():
        raise ValueError("a duration from 0 (every tick) to 7d, as seconds or with s, m, h or d")
    return timedelta(seconds=seconds)


class Settings(ExcludedUsers):
    model_config = RAPPORT_ENV

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the store: sqlite:///FILE or postgresql://USER@HOST/DB",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    writeback_batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=100, le=100_000)
    # Scoring processes on PostgreSQL; 0 = one per usable CPU, at most 4 (SQLite: always 1).
    # Opt-in: a replica that forks competes with its own sync rounds for the CPU.
    scoring_processes: int = Field(default=1, ge=0, le=64)
    # How long `rapport run --once` waits for another run on the store (worker/run/lock.py).
    run_wait_seconds: float = Field(default=300.0, ge=0, le=86_400)

    # --- Microsoft Graph: the app registration (docs/deploy.md) ---
    tenant_id: str | None = None
    client_id: str | None = None
    # Secrets come from the environment or a file, never from the command line.
    client_secret: SecretStr | None = None
    client_secret_file: Path | None = None
    client_certificate_path: Path | None = None
    client_certificate_password: SecretStr | None = None
    use_workload_identity: bool = False
    authority_host: str = "https://login.microsoftonline.com"
    graph_base_url: str = "https://graph.microsoft.com/v1.0"
    consent_redirect_uri: str = "https://localhost/rapport/consent"

    # --- Which mailboxes may be read ---
    allowed_data_locations: CommaList = ("EUR", "NAM", "APC")
    tenant_data_location: str | None = None
    exclude_unknown_location: bool = True
    mailbox_group_id: str | None = None
    # excluded_users (RAPPORT_EXCLUDED_USERS): from ExcludedUsers, above.
    # Entra group object ids: their (transitive) members are opted out like excluded users.
    excluded_groups: CommaList = ()
    internal_domains: CommaList = ()

    # --- How they are read ---
    excluded_mail_folders: CommaList = (
        "deleteditems",
        "junkemail",
        "drafts",
        "outbox",
    )
    backfill_days: int = Field(default=365, ge=1, le=3650)
    calendar_past_days: int = Field(default=365, ge=1, le=3650)
    calendar_future_days: int = Field(default=90, ge=0, le=730)
    page_size: int = Field(default=500, ge=10, le=1000)
    mailbox_concurrency: int = Field(default=4, ge=1, le=4)
    global_concurrency: int = Field(default=16, ge=1, le=256)
    concurrent_mailboxes: int = Field(default=8, ge=1, le=256)
    retry_attempts: int = Field(default=6, ge=1, le=20)
    retry_max_wait_seconds: float = Field(default=60.0, gt=0, le=600)

    # --- The CRM (docs/dataverse.md): the embedded store, or Dataverse synced into it ---
    crm: Literal["embedded", "dataverse"] = "embedded"
    dataverse_url: str | None = None  # the environment URL, https://{org}.crm.dynamics.com
    dataverse_prefix: str = "rapport"  # the solution publisher's customization prefix
    dataverse_page_size: int = Field(default=5000, ge=10, le=5000)
    # Requests in flight at once: below Dataverse's 52 per user, leaving room for others.
    dataverse_concurrency: int = Field(default=8, ge=1, le=48)
    dataverse_push_batch_size: int = Field(default=100, ge=1, le=1000)
    # Consent withdrawn or the connector switched off: clear Rapport's columns (default).
    dataverse_keep_last_values: bool = False

    # --- The service (`rapport worker`, docs/deploy.md) ---
    # Sync rounds start at each multiple of the interval (UTC) plus up to the jitter.
    sync_interval_seconds: int = Field(default=300, ge=1, le=86_400)
    sync_jitter_seconds: float = Field(default=30.0, ge=0)
    scoring_interval_seconds: int = Field(default=3600, ge=1, le=86_400)
    # Every record is scored again at most this long after the last full regrade; between
    # regrades a tick scores only the records whose interactions changed (docs/deploy.md).
    regrade_every: timedelta = REGRADE_EVERY
    # Keep the interactions read for scoring in memory between runs and read only the rows
    # written since (PostgreSQL): the book's size in memory (about 120 MB at a million
    # interactions) for most of a tick's read (docs/deploy.md, "Ticks").
    keep_book: bool = True
    retention_hour_utc: int = Field(default=3, ge=0, le=23)
    retention_interaction_days: int = Field(default=730, ge=1, le=36_500)
    retention_snapshot_days: int = Field(default=90, ge=1, le=36_500)
    misfire_grace_seconds: int = Field(default=60, ge=1, le=86_400)
    lease_ttl_seconds: float = Field(default=120.0, ge=1, le=3600)
    stuck_sync_seconds: int = Field(default=3600, ge=10, le=7 * 86_400)
    shutdown_timeout_seconds: float = Field(default=25.0, gt=0, le=300)
    auto_migrate: bool = False
    database_wait_seconds: float = Field(default=60.0, ge=0, le=3600)
    metrics_host: str = "0.0.0.0"  # noqa: S104 - a container must be scraped from outside
    metrics_port: int = Field(default=9464, ge=0, le=65_535)  # 0: no HTTP endpoint
    replica_id: str | None = None  # default: host name and process id
    # The web app (web/) served by `rapport worker` itself, beside its jobs (docs/web.md).
    worker_web: Literal["on", "off"] = "off"
    worker_web_host: str = "127.0.0.1"
    worker_web_port: int = Field(default=8000, ge=1, le=65_535)

    @model_validator(mode="after")
    def _jitter_inside_interval(self) -> Settings:
        if self.sync_jitter_seconds * 2 > self.sync_interval_seconds:
            raise ValueError(
                f"RAPPORT_SYNC_JITTER_SECONDS={self.sync_jitter_seconds:g} must be at most half "
                f"of RAPPORT_SYNC_INTERVAL_SECONDS={self.sync_interval_seconds}"
            )
        return self

    @field_validator("regrade_every", mode="before")
    @classmethod
    def _regrade_duration(cls, value: object) -> object:
        return regrade_duration(value) if isinstance(value, str) else value

    @field_validator("allowed_data_locations")
    @classmethod
    def _geo_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_geo_code(code) for code in value)

    @field_validator("excluded_groups")
    @classmethod
    def _group_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_group_id(group) for group in value)

    @field_validator("tenant_data_location")
    @classmethod
    def _tenant_geo(cls, value: str | None) -> str | None:
        return None if value is None else _geo_code(value)

    @field_validator("authority_host")
    @classmethod
    def _https_authority(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("the token service must be reached over https://")
        return value.rstrip("/")

    @field_validator("graph_base_url")
    @classmethod
    def _graph_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("expected an https:// URL (http:// only for a loopback emulator)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_credential(self) -> Settings:
        kinds = [
            name
            for name, present in (
                ("RAPPORT_CLIENT_SECRET", self.client_secret is not None),
                ("RAPPORT_CLIENT_SECRET_FILE", self.client_secret_file is not None),
                ("RAPPORT_CLIENT_CERTIFICATE_PATH", self.client_certificate_path is not None),
                ("RAPPORT_USE_WORKLOAD_IDENTITY", self.use_workload_identity),
            )
            if present
        ]
        if len(kinds) > 1:
            raise ValueError(f"set only one credential, not {' and '.join(kinds)}")
        return self

    @field_validator("dataverse_url")
    @classmethod
    def _dataverse_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from crm.dataverse.environment import environment_url

        return environment_url(value)

    @field_validator("dataverse_prefix")
    @classmethod
    def _dataverse_prefix(cls, value: str) -> str:
        from crm.dataverse.environment import publisher_prefix

        return publisher_prefix(value)

    @model_validator(mode="after")
    def _dataverse_needs_url(self) -> Settings:
        if self.crm == "dataverse" and self.dataverse_url is None:
            raise ValueError(
                "RAPPORT_DATAVERSE_URL must be set when RAPPORT_CRM=dataverse "
                "(the environment URL, e.g. https://contoso.crm.dynamics.com)"
            )
        return self

    @property
    def graph_configured(self) -> bool:
        return bool(self.tenant_id and self.client_id)

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        try:
            normalise_url(value)
        except DatabaseUrlError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value
