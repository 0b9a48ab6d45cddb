"""API shapes of tenants and their bot settings (validated with clear 422 errors)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wafaa.gateway.users.schemas import UserRead, check_password, normalize_email

Language = Literal["ar", "en", "fr", "ur", "hi"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpeningHours(_Strict):
    open: str = Field(description="HH:MM, 24-hour clock", examples=["09:00"])
    close: str = Field(description="HH:MM, 24-hour clock; earlier than `open` means past midnight", examples=["23:00"])

    @field_validator("open", "close")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _TIME.match(value):
            raise ValueError("must be a time as HH:MM (00:00 to 23:59)")
        return value


class RetrievalSettings(_Strict):
    chunk_size: int = Field(
        default=400, ge=100, le=8000, description="Characters per chunk of documents indexed from now on"
    )
    chunk_overlap: int = Field(default=50, ge=0, le=2000, description="Characters shared by neighbouring chunks")
    top_k: int = Field(default=5, ge=1, le=50)
    min_score: float = Field(default=0.3, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> RetrievalSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self


class LlmSettings(_Strict):
    model: str = Field(default="gpt-4o-mini", min_length=1, max_length=100)
    temperature: float = Field(default=0.3, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=16, le=8192)


class TenantSettings(_Strict):
    """The full, validated bot settings of a tenant."""

    bot_name: str = Field(default="Wafaa", min_length=1, max_length=80)
    persona: str = Field(default="A warm, concise concierge.", max_length=2000)
    system_prompt_additions: str = Field(default="", max_length=8000)
    default_language: Language = "ar"
    languages: list[Language] = Field(default_factory=lambda: list[Language](("ar", "en")), min_length=1, max_length=5)
    greeting: str = Field(default="Welcome! How can I help you today?", max_length=1000)
    fallback_message: str = Field(default="I'm not sure about that; let me get someone to help.", max_length=1000)
    handoff_message: str = Field(default="A member of our team will reply shortly.", max_length=1000)
    text_only_message: str = Field(
        default="Thanks! I can only read text messages for now. Could you type your question?",
        max_length=1000,
        description="The reply to an image, voice note or sticker without text",
    )
    timezone: str = Field(default="Asia/Dubai", max_length=64)
    business_hours: dict[Weekday, list[OpeningHours]] = Field(default_factory=dict)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("must be an IANA time zone such as Asia/Dubai") from exc
        return value

    @field_validator("languages")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a language")
        return value

    @model_validator(mode="after")
    def _default_is_answered(self) -> TenantSettings:
        if self.default_language not in self.languages:
            raise ValueError("default_language must be one of languages")
        return self


class RetrievalSettingsUpdate(_Strict):
    chunk_size: int | None = None
    chunk_overlap: int | None = None
    top_k: int | None = None
    min_score: float | None = None


class LlmSettingsUpdate(_Strict):
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


class TenantSettingsUpdate(_Strict):
    """A partial update: only the fields sent change; the merged result is validated as a whole."""

    bot_name: str | None = None
    persona: str | None = None
    system_prompt_additions: str | None = None
    default_language: Language | None = None
    languages: list[Language] | None = None
    greeting: str | None = None
    fallback_message: str | None = None
    handoff_message: str | None = None
    text_only_message: str | None = None
    timezone: str | None = None
    business_hours: dict[Weekday, list[OpeningHours]] | None = None
    retrieval: RetrievalSettingsUpdate | None = None
    llm: LlmSettingsUpdate | None = None

    def changed(self) -> dict[str, Any]:
        """The fields the client sent, nested ones included (nulls mean "unchanged")."""
        return self.model_dump(exclude_unset=True, exclude_none=True)


class TenantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    created_at: datetime
    settings: TenantSettings


class TenantCreate(_Strict):
    """Onboarding: a tenant and its first owner."""

    name: str = Field(min_length=1, max_length=200)
    owner_email: str = Field(max_length=320)
    owner_password: str = Field(max_length=200)

    _email = field_validator("owner_email")(normalize_email)
    _password = field_validator("owner_password")(check_password)


class TenantCreated(BaseModel):
    tenant: TenantRead
    owner: UserRead
