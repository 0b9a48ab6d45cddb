"""Authentication: login, refresh rotation with reuse detection, logout, the current user."""
