"""Every table of the `channels` schema, for Alembic."""

from wafaa.channels.database import Base, ProcessedEvent, metadata
from wafaa.channels.deliveries.models import Delivery

__all__ = ["Base", "Delivery", "ProcessedEvent", "metadata"]
