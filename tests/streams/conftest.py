"""Factories for the stream adapters' unit tests: events, their Kafka bytes, fake messages,
a ReplacingMergeTree reading of session changes, and metric reads."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from botbill.billing_rules.events import (
    AgentHandoff,
    AlertDelivered,
    ConversationTurn,
    Event,
    event_to_mapping,
)
from botbill.billing_rules.sessions import SessionChange, UsageSession
from botbill.billing_rules.timeutil import parse_rfc3339_ms
from botbill.schemas.codec import AvroCodec
from botbill.streams import topic_names as topics
from botbill.streams.metrics import Metrics
from botbill.streams.settings import WorkerSettings

T0 = parse_rfc3339_ms("2026-11-01T10:00:00.000Z")
MINUTE = 60_000
TOPIC_OF = {"conversation_turn": topics.CONVERSATION_TURNS,
            "agent_handoff": topics.AGENT_HANDOFFS,
            "alert_delivered": topics.ALERTS_DELIVERED}
SCHEMA_OF = {"conversation_turn": "ConversationTurn", "agent_handoff": "AgentHandoff",
             "alert_delivered": "AlertDelivered"}


class EventFactory:
    """Valid events of one conversation (or bot), each with a fresh ``event_id`` unless
    one is given; times are minutes after :data:`T0`."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def _id(self, event_id: str | None) -> str:
        return event_id or f"e{next(self._ids):04d}"

    def turn(self, minute: float, speaker: str = "USER", *, conversation: str = "c1",
             bot: str = "bot-a", event_id: str | None = None,
             is_test: bool = False) -> ConversationTurn:
        return ConversationTurn(event_id=self._id(event_id), account_id="acct-1", bot_id=bot,
                                occurred_at=T0 + int(minute * MINUTE),
                                conversation_id=conversation, user_id="u-1", channel="web",
                                speaker=speaker, is_test=is_test)  # type: ignore[arg-type]

    def handoff(self, minute: float, phase: str, handoff_id: str = "h1", *,
                conversation: str = "c1", bot: str = "bot-a",
                event_id: str | None = None) -> AgentHandoff:
        return AgentHandoff(event_id=self._id(event_id), account_id="acct-1", bot_id=bot,
                            occurred_at=T0 + int(minute * MINUTE), conversation_id=conversation,
                            user_id="u-1", channel="web", handoff_id=handoff_id,
                            phase=phase, agent_id="agent-7")  # type: ignore[arg-type]

    def alert(self, minute: float, *, bot: str = "bot-a", event_id: str | None = None,
              is_test: bool = False) -> AlertDelivered:
        return AlertDelivered(event_id=self._id(event_id), account_id="acct-1", bot_id=bot,
                              occurred_at=T0 + int(minute * MINUTE), alert_id="stock",
                              user_id="u-1", channel="email", is_test=is_test)


@pytest.fixture
def events() -> EventFactory:
    return EventFactory()


@pytest.fixture
def codec() -> AvroCodec:
    return AvroCodec()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def settings() -> WorkerSettings:
    return WorkerSettings()


def encode_event(codec: AvroCodec, event: Event) -> bytes:
    """The bytes a producer puts on the event's input topic."""
    record = event_to_mapping(event)
    del record["type"]
    return codec.encode(SCHEMA_OF[event.type], record, topic=TOPIC_OF[event.type])


@dataclass
class FakeMessage:
    """The slice of ``faust.types.Message`` the sink uses, counting pins."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Any = field(default_factory=list)
    refcount: int = 0
    increfs: int = 0

    def incref(self) -> None:
        self.refcount += 1
        self.increfs += 1

    def decref(self) -> None:
        self.refcount -= 1


@dataclass
class FakeEvent:
    """What ``stream.take_events`` yields: an event with its message."""

    message: FakeMessage


MessageFactory = Callable[..., FakeMessage]


@pytest.fixture
def make_message() -> MessageFactory:
    """``make_message(topic, value, key=..., headers=..., partition=...)``; offsets grow per
    ``(topic, partition)``."""
    offsets: dict[tuple[str, int], itertools.count[int]] = {}

    def make(topic: str, value: bytes | None, *, key: bytes | None = b"k",
             headers: Any = None, partition: int = 0) -> FakeMessage:
        offset = next(offsets.setdefault((topic, partition), itertools.count(100)))
        return FakeMessage(topic, partition, offset, key, value,
                           [] if headers is None else headers)

    return make


def replacing_merge(changes: Iterable[SessionChange]) -> list[UsageSession]:
    """ClickHouse's reading of ``usage_sessions``: the highest revision per identity wins
    (the later row on a tie), voided rows are not billed."""
    latest: dict[tuple[Any, ...], SessionChange] = {}
    for change in changes:
        known = latest.get(change.session.identity)
        if known is None or change.revision >= known.revision:
            latest[change.session.identity] = change
    return sorted((c.session for c in latest.values() if not c.voided),
                  key=lambda s: s.identity)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    """A counter's value from the registry (0 when never touched)."""
    value = metrics.registry.get_sample_value(f"{name}_total", labels)
    return 0.0 if value is None else value
