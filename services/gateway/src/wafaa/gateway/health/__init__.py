"""Liveness and readiness of the gateway and what it depends on."""
