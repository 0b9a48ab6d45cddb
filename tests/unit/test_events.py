"""Event contracts: the envelope survives the wire and rejects what it must."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from tests.fixtures.factories import message_received
from wafaa.common.events import ALL_EVENTS, TENANT_HEADER, MessageReceived
from wafaa.common.messaging import CONSUMER_GROUPS, dead_letter_stream


def test_an_event_round_trips_through_json_with_its_tenant_in_a_header() -> None:
    event = message_received(uuid.uuid4(), text="متى تغلقون يوم الجمعة؟")
    again = MessageReceived.model_validate_json(event.model_dump_json())
    assert again == event
    assert event.headers()[TENANT_HEADER] == str(event.tenant_id)


def test_an_event_without_a_tenant_is_rejected() -> None:
    body = message_received(uuid.uuid4()).model_dump(mode="json")
    del body["tenant_id"]
    with pytest.raises(ValidationError):
        MessageReceived.model_validate(body)


def test_every_event_has_its_own_stream_named_after_it() -> None:
    streams = [e.stream for e in ALL_EVENTS]
    assert len(set(streams)) == len(streams)
    for event_type in ALL_EVENTS:
        default_type = event_type.model_fields["type"].default
        assert event_type.stream == f"wafaa.{default_type}"


def test_the_topology_only_names_catalog_streams_and_known_services() -> None:
    streams = {e.stream for e in ALL_EVENTS}
    assert set(CONSUMER_GROUPS) <= streams
    for groups in CONSUMER_GROUPS.values():
        assert set(groups) <= {"gateway", "ingestion", "rag", "channels", "analytics"}
    assert dead_letter_stream("wafaa.reply.ready") == "wafaa.reply.ready.dlq"
