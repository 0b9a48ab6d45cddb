"""Conversations: read from the rag service, changed through events."""
