"""Every table of the `analytics` schema, for Alembic."""

from wafaa.analytics.database import Base, ProcessedEvent, metadata
from wafaa.analytics.insights.models import MessageInsight

__all__ = ["Base", "MessageInsight", "ProcessedEvent", "metadata"]
