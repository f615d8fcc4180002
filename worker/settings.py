"""Deployment settings: one typed object, read from RAPPORT_* variables and .env.

Only entry points (the CLI, the scheduler) build this; everything below them
receives plain values. Relationship-analytics admin settings are a different
thing: they live in the database (see worker/ri_settings.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.engine import DEFAULT_DATABASE_URL, DatabaseUrlError, normalise_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAPPORT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the store: sqlite:///FILE or postgresql://USER@HOST/DB",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    writeback_batch_size: int = Field(default=2000, ge=100, le=100_000)

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
