"""API shapes of channels. Tokens and secrets go in, never come out (only "set" and last four)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from wafaa.gateway.schema_types import IsoDatetime

_ID = Field(min_length=1, max_length=100, pattern=r"^[0-9A-Za-z_.:-]+$")
# Access tokens travel in an HTTP `Authorization` header: visible ASCII only, as Meta issues them.
_TOKEN_PATTERN = r"^[\x21-\x7e]+$"  # noqa: S105 - a pattern, not a password
_SECRET = Field(min_length=8, max_length=2000, pattern=_TOKEN_PATTERN)


class _ChannelCreateBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    access_token: str = _SECRET
    name: str | None = Field(default=None, max_length=200)
    app_secret: str | None = Field(default=None, min_length=8, max_length=500)
    verify_token: str | None = Field(default=None, min_length=8, max_length=200)


class WhatsAppChannelCreate(_ChannelCreateBase):
    platform: Literal["whatsapp"]
    phone_number_id: str = _ID
    waba_id: str | None = Field(default=None, max_length=100)
    display_phone_number: str | None = Field(default=None, max_length=50)


class InstagramChannelCreate(_ChannelCreateBase):
    platform: Literal["instagram"]
    instagram_account_id: str = _ID
    page_id: str | None = Field(default=None, max_length=100)


ChannelCreate = Annotated[WhatsAppChannelCreate | InstagramChannelCreate, Field(discriminator="platform")]


class ChannelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    access_token: str | None = Field(default=None, min_length=8, max_length=2000, pattern=_TOKEN_PATTERN)
    app_secret: str | None = Field(default=None, min_length=8, max_length=500)
    verify_token: str | None = Field(default=None, min_length=8, max_length=200)
    status: Literal["active", "paused"] | None = None
    token_expires_at: IsoDatetime | None = None


class ChannelRead(BaseModel):
    id: UUID
    platform: Literal["whatsapp", "instagram"]
    external_account_id: str
    name: str | None
    waba_id: str | None
    display_phone_number: str | None
    page_id: str | None
    access_token: str = Field(description='"set" and the last four characters, never the token')
    app_secret_set: bool
    own_verify_token: bool
    status: Literal["active", "paused"]
    paused_reason: str | None
    token_expires_at: datetime | None
    token_expiring_soon: bool
    webhook_url: str
    created_at: datetime
    updated_at: datetime


class ChannelCreated(ChannelRead):
    verify_token: str | None = Field(
        description="Paste into Meta's dashboard with the webhook URL; shown once, when you set your own app"
    )


class ChannelTestResult(BaseModel):
    ok: bool
    account: dict[str, str] | None = None
    error_code: str | None = None
    message: str
