"""Settings base shared by every service (pydantic-settings, plain environment names)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_DATABASE_PASSWORD = "wafaa-dev-app"  # noqa: S105 - the development default, refused in production

DEFAULT_DATABASE_URL = f"postgresql+asyncpg://wafaa_app:{DEV_DATABASE_PASSWORD}@127.0.0.1:54329/wafaa"
DEFAULT_REDIS_URL = "redis://127.0.0.1:63799/0"


class InsecureSettingsError(ValueError):
    """Raised when the production profile starts with a development secret."""


class CommonSettings(BaseSettings):
    """Settings every service reads. Each service subclasses it in its own `config.py`."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    service_name: str = "wafaa"
    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    redis_url: SecretStr = SecretStr(DEFAULT_REDIS_URL)
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    # Messaging
    consumer_name: str | None = None
    stream_maxlen: int = 1_000_000
    consumer_batch_size: int = 64
    consumer_poll_interval_ms: int = 100
    reclaim_idle_ms: int = 30_000
    reclaim_poll_interval_ms: int = 1_000
    max_deliveries: int = 5
    graceful_timeout: float = 20.0
    redis_max_connections: int = Field(default=100, ge=1)
    redis_pool_timeout_seconds: float = Field(default=5.0, gt=0)

    # Database
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_statement_timeout_ms: int = 30_000

    # (field name, development default) pairs the production profile refuses.
    dev_secrets: ClassVar[tuple[tuple[str, str], ...]] = ()

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> CommonSettings:
        if self.environment != "production":
            return self
        problems = []
        if DEV_DATABASE_PASSWORD in self.database_url.get_secret_value():
            problems.append("DATABASE_URL")
        for field, dev_value in self.dev_secrets:
            value = getattr(self, field)
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            if raw == dev_value or not raw:
                problems.append(field.upper())
        if problems:
            raise InsecureSettingsError("production profile refuses development secrets in: " + ", ".join(problems))
        return self
