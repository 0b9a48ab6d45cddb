"""Gateway auth rules that need no server: settings, bcrypt cost, tokens, CSV escaping."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from wafaa.gateway.audit.service import escape_cell, redact
from wafaa.gateway.auth.passwords import PasswordHasher, password_problem
from wafaa.gateway.auth.tokens import InvalidTokenError, TokenService
from wafaa.gateway.config import GatewaySettings

STRONG = {
    "DATABASE_URL": "postgresql+asyncpg://wafaa_app:from-the-vault@db:5432/wafaa",
    "JWT_SECRET": "a" * 40,
    "JWT_REFRESH_SECRET": "b" * 40,
    "PLATFORM_API_KEY": "c" * 40,
    "CHANNEL_SECRETS_KEY": "d" * 40,
    "META_APP_SECRET": "e" * 32,
    "META_VERIFY_TOKEN": "f" * 24,
}


def test_defaults_are_15_minute_access_and_30_day_refresh_tokens() -> None:
    settings = GatewaySettings()
    assert (settings.access_token_minutes, settings.refresh_token_days, settings.bcrypt_rounds) == (15, 30, 12)


@pytest.mark.parametrize("missing", ["JWT_SECRET", "JWT_REFRESH_SECRET", "PLATFORM_API_KEY"])
def test_production_refuses_each_development_secret(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    for name, value in STRONG.items():
        if name != missing:
            monkeypatch.setenv(name, value)
        else:
            monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError, match=missing):
        GatewaySettings()


def test_production_starts_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    for name, value in STRONG.items():
        monkeypatch.setenv(name, value)
    assert GatewaySettings().environment == "production"


def test_access_and_refresh_secrets_must_differ() -> None:
    with pytest.raises(ValidationError, match="must differ"):
        GatewaySettings(jwt_secret="same-secret", jwt_refresh_secret="same-secret")


def test_passwords_are_hashed_with_bcrypt_cost_12_by_default() -> None:
    hashed = asyncio.run(PasswordHasher().hash("correct horse battery"))
    assert hashed.startswith("$2b$12$")
    assert asyncio.run(PasswordHasher().verify("correct horse battery", hashed))


def test_password_limit_is_72_utf8_bytes_not_characters() -> None:
    assert password_problem("a" * 72) is None
    assert password_problem("a" * 73) is not None
    assert password_problem("ب" * 36) is None
    assert password_problem("ب" * 37) is not None


def test_verifying_an_over_long_password_is_false_not_an_error() -> None:
    hasher = PasswordHasher(rounds=4)
    hashed = asyncio.run(hasher.hash("a" * 72))
    assert asyncio.run(hasher.verify("a" * 73, hashed)) is False
    assert asyncio.run(hasher.verify("a" * 72, None)) is False


def test_a_refresh_token_does_not_verify_as_access_and_the_reverse() -> None:
    import uuid

    tokens = TokenService(GatewaySettings())
    ids = (uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
    access = tokens.issue("access", *ids).token
    refresh = tokens.issue("refresh", *ids).token
    assert tokens.verify(access, "access").user_id == ids[0]
    with pytest.raises(InvalidTokenError):
        tokens.verify(refresh, "access")
    with pytest.raises(InvalidTokenError):
        tokens.verify(access, "refresh")


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_formula_cells_are_escaped(cell: str) -> None:
    assert escape_cell(cell) == "'" + cell


def test_audit_changes_never_keep_secrets() -> None:
    assert redact({"password": "x", "nested": {"refresh_token": "y"}, "role": "admin"}) == {
        "password": "[redacted]",
        "nested": {"refresh_token": "[redacted]"},
        "role": "admin",
    }
