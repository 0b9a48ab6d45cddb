"""The tenant table: one row per customer organisation, visible only to itself."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from wafaa.common.db import HasCreatedAt, HasId
from wafaa.gateway.database import Base


class Tenant(HasId, HasCreatedAt, Base):
    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(200))
