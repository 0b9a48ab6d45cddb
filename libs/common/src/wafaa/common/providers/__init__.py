"""Interfaces to external edges (embeddings, ...) and the implementations chosen by settings."""

from wafaa.common.providers.embeddings import (
    Embedder,
    EmbeddingSettings,
    HashEmbedder,
    LocalUSEEmbedder,
    OpenAIEmbedder,
    make_embedder,
)

__all__ = ["Embedder", "EmbeddingSettings", "HashEmbedder", "LocalUSEEmbedder", "OpenAIEmbedder", "make_embedder"]
