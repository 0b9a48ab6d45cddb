"""Every table of the `rag` schema, for Alembic."""

from wafaa.rag.conversations.models import Conversation, Message
from wafaa.rag.database import Base, ProcessedEvent, metadata

__all__ = ["Base", "Conversation", "Message", "ProcessedEvent", "metadata"]
