"""Every table of the `analytics` schema, for Alembic."""

from wafaa.analytics.database import Base, ProcessedEvent, metadata
from wafaa.analytics.insights.models import (
    ConversationFact,
    CustomerDay,
    DeliveryFact,
    FailureRollup,
    GapRollup,
    HourlyRollup,
    IntentRollup,
    KnowledgeGap,
    MessageInsight,
    Reply,
    ResponseTime,
    SentimentRollup,
)

__all__ = [
    "Base",
    "ConversationFact",
    "CustomerDay",
    "DeliveryFact",
    "FailureRollup",
    "GapRollup",
    "HourlyRollup",
    "IntentRollup",
    "KnowledgeGap",
    "MessageInsight",
    "ProcessedEvent",
    "Reply",
    "ResponseTime",
    "SentimentRollup",
    "metadata",
]
