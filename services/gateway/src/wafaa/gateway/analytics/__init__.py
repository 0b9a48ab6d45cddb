"""Read-only analytics of the tenant (owner and admin)."""
