"""Local stack without Docker: embedded servers, migrations and the services under honcho."""
