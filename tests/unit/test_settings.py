"""Settings: plain names from the environment, and a production profile that refuses dev secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from wafaa.common.config import CommonSettings


def test_settings_come_from_plain_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6380/2")
    monkeypatch.setenv("MAX_DELIVERIES", "7")
    settings = CommonSettings()
    assert settings.redis_url.get_secret_value() == "redis://cache.internal:6380/2"
    assert settings.max_deliveries == 7


def test_production_refuses_the_development_database_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        CommonSettings()


def test_production_starts_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://wafaa_app:s3cr3t-from-vault@db:5432/wafaa")
    assert CommonSettings().environment == "production"


def test_secrets_do_not_show_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://wafaa_app:hunter2@db:5432/wafaa")
    assert "hunter2" not in repr(CommonSettings())
