"""Every table of the `analytics` schema, for Alembic."""

from wafaa.analytics.database import Base, ProcessedEvent, metadata
from wafaa.analytics.insights.models import (
    ConversationFact,
    CustomerActivity,
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
    ResponseTimeBlock,
    SentimentRollup,
)

__all__ = [
    "Base",
    "ConversationFact",
    "CustomerActivity",
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
    "ResponseTimeBlock",
    "SentimentRollup",
    "metadata",
]
