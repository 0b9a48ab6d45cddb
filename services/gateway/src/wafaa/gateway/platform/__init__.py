"""Platform administration: onboarding tenants, guarded by the platform key."""
