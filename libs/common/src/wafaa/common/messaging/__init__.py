"""Redis Streams messaging: topology, publishing and at-least-once consuming."""

from wafaa.common.messaging.consumer import ConsumerOptions, EventConsumer
from wafaa.common.messaging.errors import PermanentError, TransientError
from wafaa.common.messaging.naming import consumer_name
from wafaa.common.messaging.publisher import EventPublisher
from wafaa.common.messaging.topology import CONSUMER_GROUPS, dead_letter_stream, ensure_groups

__all__ = [
    "CONSUMER_GROUPS",
    "ConsumerOptions",
    "EventConsumer",
    "EventPublisher",
    "PermanentError",
    "TransientError",
    "consumer_name",
    "dead_letter_stream",
    "ensure_groups",
]
