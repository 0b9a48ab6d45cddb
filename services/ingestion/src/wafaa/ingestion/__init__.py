"""Wafaa ingestion: extracts, chunks, embeds and indexes tenants' documents."""
