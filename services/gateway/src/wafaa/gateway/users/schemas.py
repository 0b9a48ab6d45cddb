"""API shapes of users. Unknown fields (`tenant_id`, ...) are rejected, never obeyed."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wafaa.gateway.auth.passwords import password_problem

Role = Literal["owner", "admin", "agent"]
Status = Literal["active", "disabled"]
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def normalize_email(value: str) -> str:
    """Lower-cased, trimmed, and plausibly an address."""
    email = value.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise ValueError("is not a valid email address")
    return email


def check_password(value: str) -> str:
    """Refuse passwords bcrypt cannot hash whole (over 72 UTF-8 bytes) or that are too short."""
    problem = password_problem(value)
    if problem:
        raise ValueError(f"password {problem}")
    return value


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    password: str = Field(max_length=200)
    role: Role = "agent"

    _email = field_validator("email")(normalize_email)
    _password = field_validator("password")(check_password)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    status: Status | None = None
    password: str | None = Field(default=None, max_length=200)

    @field_validator("password")
    @classmethod
    def _password(cls, value: str | None) -> str | None:
        return None if value is None else check_password(value)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    tenant_id: UUID
    email: str
    role: Role
    status: Status
    created_at: datetime
    updated_at: datetime
