"""One model call for the chunks of several documents indexed at once.

The ingestion worker indexes several documents concurrently. A menu of two chunks alone would make a
two-text model call, which costs nearly as much as a 64-text one. `async-batcher` queues every text
and runs one model call at a time: while a call runs, the texts of the documents that reach the
embedding step meanwhile queue up, and the next call takes them together (up to the embedding batch
size). Batches grow with the load instead of waiting a fixed time, and two calls never fight over
the CPUs.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from async_batcher.batcher import AsyncBatcher

from wafaa.common.providers import Embedder, EmbeddingSettings, LocalUSEEmbedder, make_embedder


class _TextBatcher(AsyncBatcher[str, list[float]]):
    def __init__(self, inner: Embedder, batch_size: int, max_wait_seconds: float) -> None:
        super().__init__(max_batch_size=max(batch_size, 2), max_queue_time=max_wait_seconds, concurrency=1)
        self.inner = inner

    async def process_batch(self, batch: list[str]) -> list[list[float]]:
        return await self.inner.embed(batch)


class CoalescingEmbedder:
    """An `Embedder` whose concurrent `embed` calls share model calls of the wrapped embedder."""

    def __init__(self, inner: Embedder, batch_size: int, *, max_wait_seconds: float = 0.005) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.dimensions = inner.dimensions
        self._batcher = _TextBatcher(inner, batch_size, max_wait_seconds)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order (computed together with other callers' texts)."""
        return list(await asyncio.gather(*(self._batcher.process(text) for text in texts)))

    async def aclose(self) -> None:
        """Finish the queued texts, stop the batcher's task and the wrapped embedder's process, if any."""
        if await self._batcher.is_running():
            await self._batcher.stop(timeout=30)
        if isinstance(self.inner, ProcessEmbedder):
            self.inner.close()


# --- the local model in a process of its own ------------------------------------------------------

_model: LocalUSEEmbedder | None = None


def _load_model(batch_size: int, threads: int) -> None:
    global _model
    _model = LocalUSEEmbedder(batch_size=batch_size, threads=threads)
    _model.embed_sync(["warm up"])


def _embed_with_model(texts: list[str]) -> list[list[float]]:
    assert _model is not None, "the embedding process was started without its model"
    return _model.embed_sync(texts)


class ProcessEmbedder:
    """The local model, run in a process of its own.

    Its tokenizer is pure Python: in the service's process it holds the GIL the event loop needs to
    store chunks and publish statuses, and the two take turns on one core. In its own process the
    model has a core of its own while the loop works on the other documents.
    """

    def __init__(self, batch_size: int, threads: int) -> None:
        self.name = LocalUSEEmbedder.name
        self.model = LocalUSEEmbedder.model
        self.dimensions = LocalUSEEmbedder.dimensions
        self._args = (batch_size, threads)
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        return ProcessPoolExecutor(1, mp_context=context, initializer=_load_model, initargs=self._args)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, computed in the model's process."""
        if not texts:
            return []
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, _embed_with_model, list(texts))
        except BrokenProcessPool:
            # The process died (killed, out of memory): start another; this call's event is retried.
            self._pool = self._start()
            raise

    def close(self) -> None:
        """Stop the model's process."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def make_indexing_embedder(settings: EmbeddingSettings) -> CoalescingEmbedder:
    """The embedder ingestion indexes with: the configured one (the local model in its own process),
    with concurrent documents' texts batched together."""
    inner: Embedder
    if settings.embedding_provider == "local":
        inner = ProcessEmbedder(settings.embedding_batch_size, settings.embedding_threads)
    else:
        inner = make_embedder(settings)
    return CoalescingEmbedder(inner, settings.embedding_batch_size)
