"""Settings of the gateway."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator

from wafaa.common.config import CommonSettings, InsecureSettingsError
from wafaa.common.knowledge.vectors import VectorStoreSettings
from wafaa.common.meta import MetaApiSettings
from wafaa.common.providers import EmbeddingSettings

# Development defaults: they let `make up` and the tests run, and the production profile refuses them.
DEV_JWT_SECRET = "wafaa-dev-jwt-access-secret-change-me"  # noqa: S105
DEV_JWT_REFRESH_SECRET = "wafaa-dev-jwt-refresh-secret-change-me"  # noqa: S105
DEV_PLATFORM_API_KEY = "wafaa-dev-platform-key"
DEV_CHANNEL_SECRETS_KEY = "wafaa-dev-channel-secrets-key"
DEV_META_APP_SECRET = "wafaa-dev-meta-app-secret"  # noqa: S105
DEV_META_VERIFY_TOKEN = "wafaa-dev-verify-token"  # noqa: S105


class GatewaySettings(CommonSettings, MetaApiSettings, EmbeddingSettings, VectorStoreSettings):
    """Environment: the common names plus the HTTP surface's own (and ingestion's query embedder and vector store)."""

    service_name: str = "gateway"
    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: list[str] = Field(default_factory=lambda: ["http://localhost:5173", "http://127.0.0.1:5173"])
    docs_enabled: bool = True
    # the built admin dashboard, served at `/` when the folder exists
    dashboard_dir: Path = Path("dashboard/dist")

    # Auth: access and refresh tokens are signed with different secrets (HS256 only).
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_refresh_secret: SecretStr = SecretStr(DEV_JWT_REFRESH_SECRET)
    jwt_issuer: str = "wafaa-gateway"
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)

    # Login throttling (Redis): failures per account and per client IP within a window.
    login_max_attempts: int = Field(default=5, ge=1)
    login_max_attempts_per_ip: int = Field(default=50, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)

    # Platform administration (tenant onboarding), sent in the `X-Platform-Key` header.
    platform_api_key: SecretStr = SecretStr(DEV_PLATFORM_API_KEY)

    # Channels and Meta webhooks.
    channel_secrets_key: SecretStr = SecretStr(DEV_CHANNEL_SECRETS_KEY)
    meta_app_secret: SecretStr = SecretStr(DEV_META_APP_SECRET)
    meta_verify_token: SecretStr = SecretStr(DEV_META_VERIFY_TOKEN)
    public_base_url: str = "http://127.0.0.1:8000"
    webhook_max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    webhook_dedup_ttl_seconds: int = Field(default=8 * 24 * 3600, ge=60)
    # How long a connected channel's route is reused by webhooks (0: look it up on every webhook).
    webhook_route_cache_seconds: float = Field(default=5.0, ge=0, le=300)

    # The dashboard test chat waits this long for the rag service's reply (then 504 `chat_timeout`).
    chat_timeout_seconds: float = Field(default=30.0, gt=0, le=300)

    # Knowledge uploads, stored under UPLOADS_DIR/{tenant_id}/{document_id}/ (shared with ingestion).
    uploads_dir: Path = Path("uploads")
    knowledge_max_file_mb: int = Field(default=20, ge=1, le=1024)
    knowledge_max_files_per_request: int = Field(default=10, ge=1, le=100)
    knowledge_max_tenant_storage_mb: int = Field(default=500, ge=1)

    dev_secrets: ClassVar[tuple[tuple[str, str], ...]] = (
        ("channel_secrets_key", DEV_CHANNEL_SECRETS_KEY),
        ("meta_app_secret", DEV_META_APP_SECRET),
        ("meta_verify_token", DEV_META_VERIFY_TOKEN),
        ("jwt_secret", DEV_JWT_SECRET),
        ("jwt_refresh_secret", DEV_JWT_REFRESH_SECRET),
        ("platform_api_key", DEV_PLATFORM_API_KEY),
    )

    @model_validator(mode="after")
    def _check_auth_settings(self) -> GatewaySettings:
        if self.jwt_secret.get_secret_value() == self.jwt_refresh_secret.get_secret_value():
            raise InsecureSettingsError("JWT_SECRET and JWT_REFRESH_SECRET must differ")
        if self.environment == "production":
            if len(self.jwt_secret.get_secret_value()) < 32 or len(self.jwt_refresh_secret.get_secret_value()) < 32:
                raise InsecureSettingsError("production needs JWT secrets of at least 32 characters")
            if self.bcrypt_rounds < 12:
                raise InsecureSettingsError("production needs BCRYPT_ROUNDS of at least 12")
        return self
