"""A large tenant's own search indexes (see `service`)."""
