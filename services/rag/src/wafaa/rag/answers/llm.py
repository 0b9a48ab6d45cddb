"""The LLM gateway behind one protocol, chosen by LLM_PROVIDER: `local`, `openai` or `mock`."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from wafaa.rag.answers.local import extract_answer
from wafaa.rag.answers.prompt import NO_ANSWER, AnswerRequest, build_messages, numbered_sources
from wafaa.rag.config import RagSettings

logger = logging.getLogger(__name__)

OnToken = Callable[[str], Awaitable[None]]
_CITATION = re.compile(r"\[(\d{1,2})\]")


@dataclass
class Answer:
    """A generated reply and the indexes (into `request.hits`) of the sources it used; no text = don't know."""

    text: str
    source_indexes: list[int] = field(default_factory=list)
    error: str | None = None

    @property
    def found(self) -> bool:
        return bool(self.text.strip())


class LlmGateway(Protocol):
    name: str

    async def answer(self, request: AnswerRequest, on_token: OnToken | None = None) -> Answer:
        """Answer the request from its sources; an empty answer when they don't hold it."""
        ...


class LocalAnswerer:
    """Extractive and grounded: the best sentences of the retrieved chunks, no network."""

    name = "local"

    async def answer(self, request: AnswerRequest, on_token: OnToken | None = None) -> Answer:
        extract = extract_answer(request.standalone_question, request.hits, request.language)
        if extract.text and on_token is not None:
            words = extract.text.split(" ")
            for start in range(0, len(words), 8):
                await on_token(" ".join(words[start : start + 8]) + (" " if start + 8 < len(words) else ""))
        return Answer(extract.text, extract.hit_indexes)


class MockAnswerer:
    """Deterministic answers for tests: the first source's first line, or nothing."""

    name = "mock"

    async def answer(self, request: AnswerRequest, on_token: OnToken | None = None) -> Answer:
        if not request.hits:
            return Answer("")
        text = f"[mock] {request.hits[0].text.strip().splitlines()[0][:200]}"
        if on_token is not None:
            await on_token(text)
        return Answer(text, [0])


class OpenAIAnswerer:
    """Chat completions on any OpenAI-compatible server, streamed; the client retries 429/5xx with backoff."""

    name = "openai"

    def __init__(self, api_key: str, base_url: str, timeout: float, max_retries: int, model: str = "") -> None:
        from openai import AsyncOpenAI

        self.model = model
        self._client = AsyncOpenAI(
            api_key=api_key or "unset", base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    async def answer(self, request: AnswerRequest, on_token: OnToken | None = None) -> Answer:
        import openai
        from openai.types.chat import ChatCompletion, ChatCompletionChunk

        if not request.hits:
            return Answer("")
        s = request.settings
        body = {
            "model": self.model or s.llm_model,
            "messages": build_messages(request),
            "temperature": s.temperature,
            "max_tokens": s.max_tokens,
            "stream": True,
        }
        try:
            # The client's own POST, as `chat.completions.create` sends it (same body, retries, auth,
            # streamed chunks), without its parameter transform: that walks every message through the
            # union of message types and took 19% of the rag process's CPU per reply with the
            # history and numbered context. The messages are plain role/content strings: nothing to
            # transform.
            stream = await self._client.post(
                "/chat/completions",
                body=body,
                cast_to=ChatCompletion,
                options={"security": {"bearer_auth": True}},
                stream=True,
                stream_cls=openai.AsyncStream[ChatCompletionChunk],
            )
            parts: list[str] = []
            pending = ""
            async for chunk in stream:
                delta = chunk.choices[0].delta.content if chunk.choices else None
                if not delta:
                    continue
                parts.append(delta)
                pending += delta
                # Hold tokens back while they could still be the start of the no-answer marker.
                if on_token is not None and not NO_ANSWER.startswith("".join(parts).strip()):
                    await on_token(pending)
                    pending = ""
        except (openai.APIError, openai.APITimeoutError) as exc:
            logger.warning("LLM call failed; answering with the fallback", extra={"error": type(exc).__name__})
            return Answer("", error=type(exc).__name__)
        text = "".join(parts).strip()
        if not text or text.startswith(NO_ANSWER):
            return Answer("")
        numbered = numbered_sources(request)
        cited = sorted({int(n) - 1 for n in _CITATION.findall(text) if 0 < int(n) <= len(numbered)})
        return Answer(text, cited or list(range(len(numbered))))


def make_llm(settings: RagSettings) -> LlmGateway:
    """The gateway LLM_PROVIDER names."""
    if settings.llm_provider == "openai":
        return OpenAIAnswerer(
            settings.openai_api_key.get_secret_value(),
            settings.llm_base_url or settings.openai_base_url,
            timeout=settings.llm_timeout_seconds,
            max_retries=settings.llm_max_retries,
            model=settings.llm_model,
        )
    if settings.llm_provider == "mock":
        return MockAnswerer()
    return LocalAnswerer()


def source_payloads(request: AnswerRequest, indexes: list[int]) -> list[dict[str, Any]]:
    """Sources as stored and published: document id, title, location, chunk id, score."""
    from wafaa.rag.answers.prompt import location_label

    out = []
    seen = set()
    for i in indexes:
        if not 0 <= i < len(request.hits):
            continue
        hit = request.hits[i]
        if hit.chunk_id in seen:
            continue
        seen.add(hit.chunk_id)
        out.append(
            {
                "document_id": str(hit.document_id),
                "title": hit.title,
                "location": location_label(hit.location) or None,
                "chunk_id": str(hit.chunk_id),
                "score": round(hit.score, 6),
            }
        )
    return out
