"""The web app's deployment settings: RAPPORT_WEB_* variables (and .env), read by the
entry point that serves the app (`rapport web`, or the worker's web job) and nowhere else.

Sign-in needs the tenant, the web app registration (client id and secret), its
registered redirect URI and the key that signs session cookies; `missing_for_sign_in`
names the first one not set, so a refused start says which. The groups are Entra
group object ids; without them nobody is a manager or an admin.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from web.identity import is_loopback
from worker.settings import ExcludedUsers

ENV_PREFIX = "RAPPORT_WEB_"
SIGN_IN_REQUIRED = ("tenant_id", "client_id", "client_secret", "redirect_uri", "session_secret")
MIN_SESSION_SECRET = 32


class WebSettingsError(ValueError):
    """A RAPPORT_WEB_* value that is not allowed; one line naming the variable."""


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- Sign-in: Microsoft Entra ID, the web app's registration (docs/web.md) ---
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    authority_host: str = "https://login.microsoftonline.com"
    # The redirect URI registered on the app (Web platform): https://HOST/auth/callback
    redirect_uri: str | None = None
    # Signs the session cookies; at least 32 characters (e.g. `openssl rand -base64 48`).
    session_secret: SecretStr | None = None
    session_hours: float = Field(default=8.0, gt=0, le=168)
    # The delegated scope of Rapport's API (Expose an API) an access token must carry.
    api_scope: str = Field(default="access_as_user", pattern=r"^[A-Za-z0-9._-]{1,120}$")
    # Entra group object ids: members see every record / the admin page.
    managers_group: str | None = None
    admins_group: str | None = None

    # --- Serving ---
    # TLS straight from the app (without a reverse proxy in front): PEM files.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn's option).
    forwarded_allow_ips: str = "127.0.0.1"

    @field_validator("managers_group", "admins_group")
    @classmethod
    def _group_id(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return str(UUID(value.strip()))
        except ValueError:
            raise ValueError(
                f"{value!r} is not a group object id; expected an Entra group id (a GUID)"
            ) from None

    @field_validator("authority_host")
    @classmethod
    def _https_authority(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError(f"{value!r} is not allowed; expected an https:// URL")
        return value.rstrip("/")

    @field_validator("redirect_uri")
    @classmethod
    def _redirect(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        secure = parts.scheme == "https" or (
            parts.scheme == "http" and is_loopback(parts.hostname or "")
        )
        if not secure or not parts.hostname or parts.fragment:
            raise ValueError(
                f"{value!r} is not allowed; expected the registered https:// redirect URI, "
                "e.g. https://rapport.contoso.com/auth/callback"
            )
        return value.strip()

    @field_validator("session_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SESSION_SECRET:
            raise ValueError(f"too short; expected at least {MIN_SESSION_SECRET} characters")
        return value

    def missing_for_sign_in(self) -> str | None:
        """The first variable sign-in needs and is not set, or None."""
        for name in SIGN_IN_REQUIRED:
            if getattr(self, name) is None:
                return ENV_PREFIX + name.upper()
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            return ENV_PREFIX + ("TLS_KEY_FILE" if self.tls_key_file is None else "TLS_CERT_FILE")
        return None

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}"


def load_web_settings() -> WebSettings:
    """The settings from the environment; WebSettingsError naming the variable otherwise
    (never echoing a secret's value)."""
    try:
        return WebSettings()
    except ValidationError as problem:
        first = problem.errors()[0]
        name = ENV_PREFIX + str(first["loc"][0]).upper() if first["loc"] else ENV_PREFIX
        message = str(first["msg"]).removeprefix("Value error, ")
        raise WebSettingsError(f"{name}: {message}") from None


def excluded_users() -> tuple[str, ...]:
    """The colleagues never offered as introducers (RAPPORT_EXCLUDED_USERS, ids or
    addresses, parsed by the worker's own definition), read once when the app is built
    (as the worker reads its settings once when it starts), not again on every request."""
    return ExcludedUsers().excluded_users
