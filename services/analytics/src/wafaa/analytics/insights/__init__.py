"""Per-message insights."""
