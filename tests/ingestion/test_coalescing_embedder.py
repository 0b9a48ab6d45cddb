"""Concurrent documents share model calls, each gets exactly its own vectors back, and the local model
runs in a process of its own."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest

from wafaa.common.providers import EmbeddingSettings, HashEmbedder, LocalUSEEmbedder
from wafaa.ingestion.embedding import CoalescingEmbedder, ProcessEmbedder, make_indexing_embedder


class RecordingEmbedder:
    """The hash embedder, recording every call it receives."""

    def __init__(self, fail: bool = False) -> None:
        self.inner = HashEmbedder(64)
        self.name, self.model, self.dimensions = "hash", self.inner.model, 64
        self.calls: list[list[str]] = []
        self.fail = fail

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        await asyncio.sleep(0.01)
        if self.fail:
            raise RuntimeError("model crashed")
        return await self.inner.embed(texts)


async def test_concurrent_calls_become_one_model_call_and_each_caller_gets_its_own_vectors() -> None:
    inner = RecordingEmbedder()
    embedder = CoalescingEmbedder(inner, batch_size=64, max_wait_seconds=0.05)
    documents = [[f"document {d} chunk {c}" for c in range(d + 1)] for d in range(6)]
    results = await asyncio.gather(*(embedder.embed(texts) for texts in documents))
    assert len(inner.calls) == 1
    assert sorted(inner.calls[0]) == sorted(t for texts in documents for t in texts)
    for texts, vectors in zip(documents, results, strict=True):
        assert vectors == await inner.inner.embed(texts)
    assert (embedder.name, embedder.model, embedder.dimensions) == ("hash", inner.model, 64)


async def test_a_full_batch_goes_without_waiting_and_the_rest_follows() -> None:
    inner = RecordingEmbedder()
    embedder = CoalescingEmbedder(inner, batch_size=4, max_wait_seconds=5.0)
    results = await asyncio.wait_for(
        asyncio.gather(embedder.embed(["a", "b"]), embedder.embed(["c", "d"]), embedder.embed(["e", "f", "g", "h"])),
        timeout=2.0,
    )
    assert [len(r) for r in results] == [2, 2, 4]
    assert sum(len(c) for c in inner.calls) == 8 and len(inner.calls) == 2


async def test_a_failed_model_call_fails_every_caller_of_that_batch() -> None:
    embedder = CoalescingEmbedder(RecordingEmbedder(fail=True), batch_size=64, max_wait_seconds=0.02)
    outcomes = await asyncio.gather(embedder.embed(["a"]), embedder.embed(["b"]), return_exceptions=True)
    assert all(isinstance(o, RuntimeError) for o in outcomes)


async def test_no_texts_make_no_call() -> None:
    inner = RecordingEmbedder()
    assert await CoalescingEmbedder(inner, batch_size=8).embed([]) == []
    assert inner.calls == []


@pytest.mark.parametrize("size", [1, 3])
async def test_calls_one_after_another_each_get_their_vectors(size: int) -> None:
    inner = RecordingEmbedder()
    embedder = CoalescingEmbedder(inner, batch_size=size, max_wait_seconds=0.01)
    for n in range(3):
        texts = [f"t{n}-{i}" for i in range(size)]
        assert await embedder.embed(texts) == await inner.inner.embed(texts)


@pytest.mark.slow
async def test_the_local_model_in_its_own_process_gives_the_same_vectors_and_survives_a_killed_process() -> None:
    texts = ["What time do you close on Friday?", "متى تغلقون يوم الجمعة؟"]
    expected = LocalUSEEmbedder(threads=1).embed_sync(texts)
    embedder = ProcessEmbedder(batch_size=64, threads=1)
    try:
        vectors = await embedder.embed(texts)
        assert np.allclose(vectors, expected, atol=1e-5)
        assert (embedder.name, embedder.model, embedder.dimensions) == ("local", "use-multilingual-v3", 512)
        for process in list(embedder._pool._processes.values()):  # the model's process dies (OOM killer, kill -9)
            os.kill(process.pid, signal.SIGKILL)
        with pytest.raises(BrokenProcessPool):
            await embedder.embed(texts)
        assert np.allclose(await embedder.embed(texts), expected, atol=1e-5), "a new process took over"
    finally:
        embedder.close()


async def test_ingestion_embeds_the_local_model_in_its_own_process_and_other_providers_in_place() -> None:
    local = make_indexing_embedder(EmbeddingSettings(embedding_provider="local"))
    hashed = make_indexing_embedder(EmbeddingSettings(embedding_provider="hash"))
    try:
        assert isinstance(local.inner, ProcessEmbedder)
        assert isinstance(hashed.inner, HashEmbedder)
    finally:
        await local.aclose()
        await hashed.aclose()
