"""Declarative base and inbox of the `channels` schema."""

from sqlalchemy.orm import DeclarativeBase

from wafaa.common.db import InboxMixin, service_metadata

metadata = service_metadata("channels")


class Base(DeclarativeBase):
    metadata = metadata


class ProcessedEvent(InboxMixin, Base):
    __tablename__ = "processed_events"
