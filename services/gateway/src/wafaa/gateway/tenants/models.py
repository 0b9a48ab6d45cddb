"""The tenant table: one row per customer organisation, visible only to itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from wafaa.common.db import HasCreatedAt, HasId
from wafaa.gateway.database import Base


class Tenant(HasId, HasCreatedAt, Base):
    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(200))
    # Bot settings, validated by `tenants.schemas.TenantSettings` before every write.
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"), default=dict)
