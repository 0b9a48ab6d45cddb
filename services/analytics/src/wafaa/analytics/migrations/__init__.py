"""Alembic history of the analytics schema (run by `wafaa-migrate`, never by the service)."""
