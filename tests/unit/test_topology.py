"""The topology table and the services' subscriptions say the same thing."""

from __future__ import annotations

import importlib

from wafaa.common.messaging import CONSUMER_GROUPS

WORKERS = ("ingestion", "rag", "channels", "analytics")


def subscribed_streams(service: str) -> set[str]:
    if service == "gateway":
        from wafaa.gateway.main import SUBSCRIPTIONS

        return {event_type.stream for event_type, _ in SUBSCRIPTIONS}
    module = importlib.import_module(f"wafaa.{service}.main")
    return set(module.runtime.consumer.streams)


def test_every_declared_group_has_a_subscriber_and_every_subscriber_a_group() -> None:
    for service in ("gateway", *WORKERS):
        declared = {stream for stream, groups in CONSUMER_GROUPS.items() if service in groups}
        assert subscribed_streams(service) == declared, service
