"""Read interface of a tenant's bot settings (owned and validated by the gateway).

The gateway writes `gateway.tenants.settings` (JSONB, validated by its `TenantSettings`). Readers
take only the keys they need, each with the gateway's own default, so a missing or partial
document still gives a complete answer. Row-level security of the reader applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_SETTINGS = text("SELECT settings FROM gateway.tenants WHERE id = :t")


@dataclass(frozen=True)
class BotSettings:
    """What the responder needs from the tenant's settings."""

    bot_name: str = "Wafaa"
    persona: str = "A warm, concise concierge."
    system_prompt_additions: str = ""
    default_language: str = "ar"
    fallback_message: str = "I'm not sure about that; let me get someone to help."
    handoff_message: str = "A member of our team will reply shortly."
    text_only_message: str = "Thanks! I can only read text messages for now. Could you type your question?"
    top_k: int = 5
    min_score: float = 0.3
    llm_model: str = "gpt-4o-mini"
    temperature: float = 0.3
    max_tokens: int = 512

    @classmethod
    def from_document(cls, doc: dict[str, Any] | None) -> BotSettings:
        """Settings from the gateway's JSON document; absent keys keep their defaults."""
        doc = doc or {}
        retrieval = doc.get("retrieval") or {}
        llm = doc.get("llm") or {}
        base = cls()
        return cls(
            bot_name=str(doc.get("bot_name") or base.bot_name),
            persona=str(doc.get("persona") or base.persona),
            system_prompt_additions=str(doc.get("system_prompt_additions") or ""),
            default_language=str(doc.get("default_language") or base.default_language),
            fallback_message=str(doc.get("fallback_message") or base.fallback_message),
            handoff_message=str(doc.get("handoff_message") or base.handoff_message),
            text_only_message=str(doc.get("text_only_message") or base.text_only_message),
            top_k=int(retrieval.get("top_k") or base.top_k),
            min_score=float(retrieval.get("min_score", base.min_score)),
            llm_model=str(llm.get("model") or base.llm_model),
            temperature=float(llm.get("temperature", base.temperature)),
            max_tokens=int(llm.get("max_tokens") or base.max_tokens),
        )


async def read_bot_settings(session: AsyncSession, tenant_id: UUID) -> BotSettings:
    """The tenant's bot settings (defaults when the tenant has none)."""
    row = (await session.execute(_SETTINGS, {"t": tenant_id})).first()
    return BotSettings.from_document(row[0] if row else None)
