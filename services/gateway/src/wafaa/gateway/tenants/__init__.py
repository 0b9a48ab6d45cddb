"""Tenants: the brands and restaurants using the concierge."""
