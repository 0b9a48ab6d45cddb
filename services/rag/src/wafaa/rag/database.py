"""Declarative base and inbox of the `rag` schema."""

from sqlalchemy.orm import DeclarativeBase

from wafaa.common.db import InboxMixin, service_metadata

metadata = service_metadata("rag")


class Base(DeclarativeBase):
    metadata = metadata


class ProcessedEvent(InboxMixin, Base):
    __tablename__ = "processed_events"
