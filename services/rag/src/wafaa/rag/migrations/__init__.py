"""Alembic history of the rag schema (run by `wafaa-migrate`, never by the service)."""
