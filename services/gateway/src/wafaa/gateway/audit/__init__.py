"""The audit trail: one row per state change, written in the change's own transaction."""
