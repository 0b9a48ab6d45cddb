"""Alembic history of the gateway schema (run by `wafaa-migrate`, never by the service)."""
