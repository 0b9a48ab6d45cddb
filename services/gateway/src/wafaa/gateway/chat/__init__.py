"""The dashboard test chat: request/reply with the rag service over the broker."""
