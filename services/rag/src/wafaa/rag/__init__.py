"""The rag service: remembers conversations and answers customers from the tenant's knowledge."""
