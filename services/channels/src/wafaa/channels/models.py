"""Every table of the `channels` schema, for Alembic."""

from wafaa.channels.database import Base, ProcessedEvent, metadata
from wafaa.channels.deliveries.models import CustomerWindow, Delivery, DeliveryPart

__all__ = ["Base", "CustomerWindow", "Delivery", "DeliveryPart", "ProcessedEvent", "metadata"]
