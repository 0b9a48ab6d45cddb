"""Declarative base and inbox of the `gateway` schema."""

from sqlalchemy.orm import DeclarativeBase

from wafaa.common.db import InboxMixin, service_metadata

metadata = service_metadata("gateway")


class Base(DeclarativeBase):
    metadata = metadata


class ProcessedEvent(InboxMixin, Base):
    __tablename__ = "processed_events"
