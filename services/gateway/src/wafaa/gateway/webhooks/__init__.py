"""Meta webhooks: verification, signatures, and turning payloads into events."""
