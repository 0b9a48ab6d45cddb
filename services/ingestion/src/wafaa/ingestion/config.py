"""Settings of the ingestion service."""

from pathlib import Path

from pydantic import SecretStr

from wafaa.common.config import CommonSettings
from wafaa.common.knowledge.vectors import VectorStoreSettings
from wafaa.common.providers import EmbeddingSettings


class IngestionSettings(CommonSettings, EmbeddingSettings, VectorStoreSettings):
    """Environment: the common names, embeddings, vector store, uploads, parsing limits and PORT for the probes."""

    service_name: str = "ingestion"
    host: str = "127.0.0.1"
    port: int = 8001

    uploads_dir: Path = Path("uploads")
    # Documents in flight. Parsing and embedding hold no connection, and the more small documents wait
    # at the model, the fuller its calls: twice the embedding batch keeps one call filling while
    # another runs.
    indexing_concurrency: int = 128
    extraction_timeout_seconds: float = 60.0
    extraction_memory_mb: int = 1024
    extraction_workers: int = 0
    max_document_mb: int = 50
    max_chunks_per_document: int = 50_000
    zip_max_entries: int = 1000
    zip_max_uncompressed_mb: int = 200
    zip_max_ratio: float = 100.0


class SearchIndexSettings(CommonSettings):
    """Environment of `wafaa-search-indexes`: when a tenant gets its own search indexes, and how they build."""

    service_name: str = "search-indexes"
    database_admin_url: SecretStr | None = None
    # Exact scoring costs about 2 µs per chunk (pgvector 0.6, 512 dimensions): 16-19 ms for 8,000 chunks,
    # where their own HNSW index (ef_search 300) answered in 9 ms with the exact top 10 for 100 of 100
    # queries (bench/ingestion.py's vectors). From 5,000 chunks a tenant gets its index.
    knowledge_ann_min_chunks: int = 5_000
    knowledge_fts_min_chunks: int = 2_000
    knowledge_ann_m: int = 16
    knowledge_ann_ef_construction: int = 64
    knowledge_index_interval_seconds: float = 300.0
    knowledge_index_work_mem: str = "512MB"
    knowledge_index_heartbeat_file: str = ""  # touched every 10 s while running (for a container health check)
