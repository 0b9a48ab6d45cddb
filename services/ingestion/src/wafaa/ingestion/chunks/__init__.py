"""Indexed chunks of tenants' documents."""
