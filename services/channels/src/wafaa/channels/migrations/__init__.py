"""Alembic history of the channels schema (run by `wafaa-migrate`, never by the service)."""
