"""Prometheus metrics shared by every service."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_HANDLED = Counter(
    "wafaa_events_handled_total",
    "Events taken from a stream, by outcome (processed, retry, dead_lettered).",
    ["service", "stream", "outcome"],
)
EVENTS_DUPLICATE = Counter(
    "wafaa_events_duplicate_total",
    "Events skipped because their effect was already recorded (redelivery).",
    ["service", "stream"],
)
EVENT_HANDLE_SECONDS = Histogram(
    "wafaa_event_handle_seconds",
    "Time spent handling one event.",
    ["service", "stream"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EVENTS_PUBLISHED = Counter(
    "wafaa_events_published_total",
    "Events appended to a stream.",
    ["service", "stream"],
)
