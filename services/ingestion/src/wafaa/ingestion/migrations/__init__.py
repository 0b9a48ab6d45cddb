"""Alembic history of the ingestion schema (run by `wafaa-migrate`, never by the service)."""
