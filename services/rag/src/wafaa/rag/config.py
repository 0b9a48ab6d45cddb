"""Settings of the rag service."""

from typing import Literal

from pydantic import Field

from wafaa.common.config import CommonSettings
from wafaa.common.knowledge.vectors import VectorStoreSettings
from wafaa.common.providers import EmbeddingSettings


class RagSettings(CommonSettings, EmbeddingSettings, VectorStoreSettings):
    """Environment: the common names, the query embedder and vector store (as ingestion's), the LLM, the turns."""

    service_name: str = "rag"
    host: str = "127.0.0.1"
    port: int = 8002

    # Generation: `local` (grounded extractive answerer, no network), `openai` (any compatible server), `mock`.
    llm_provider: Literal["local", "openai", "mock"] = "local"
    llm_model: str = ""  # empty: the tenant's `llm.model` setting
    llm_base_url: str = ""  # empty: OPENAI_BASE_URL
    llm_timeout_seconds: float = Field(default=30.0, gt=0)
    llm_max_retries: int = Field(default=3, ge=0)

    # Turns: quick messages of one customer within the window are answered as one turn.
    turn_window_seconds: float = Field(default=2.0, ge=0)
    turn_lease_seconds: float = Field(default=60.0, gt=0)
    turn_poll_interval_ms: int = Field(default=50, ge=5)
    turn_concurrency: int = Field(default=32, ge=1)
    history_turns: int = Field(default=10, ge=0)
    history_token_budget: int = Field(default=1200, ge=0)
    context_token_budget: int = Field(default=2500, ge=100)
