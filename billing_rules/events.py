"""The three input events of BILLING_RULES §1, and their validation.

Adapters (JSON Lines, Avro, Kafka) turn a record into a plain mapping whose ``occurred_at``
is either epoch milliseconds or an RFC 3339 string, then call :func:`event_from_mapping`.
Everything about what is a valid event is decided here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .exceptions import InvalidEvent
from .timeutil import parse_rfc3339_ms

__all__ = [
    "EVENT_TYPES",
    "AgentHandoff",
    "AlertDelivered",
    "ConversationEvent",
    "ConversationKey",
    "ConversationTurn",
    "Event",
    "event_from_mapping",
    "event_to_mapping",
]

Speaker = Literal["USER", "BOT", "AGENT"]
Phase = Literal["STARTED", "ENDED"]
SPEAKERS = frozenset({"USER", "BOT", "AGENT"})
PHASES = frozenset({"STARTED", "ENDED"})
EVENT_TYPES = ("conversation_turn", "agent_handoff", "alert_delivered")

ConversationKey = tuple[str, str, str]
"""``(account_id, bot_id, conversation_id)``: the unit of sessionization (R3)."""


@dataclass(frozen=True, slots=True)
class ConversationTurn:
    event_id: str
    account_id: str
    bot_id: str
    occurred_at: int
    conversation_id: str
    user_id: str
    channel: str
    speaker: Speaker
    is_test: bool = False

    type = "conversation_turn"

    @property
    def key(self) -> ConversationKey:
        return (self.account_id, self.bot_id, self.conversation_id)


@dataclass(frozen=True, slots=True)
class AgentHandoff:
    event_id: str
    account_id: str
    bot_id: str
    occurred_at: int
    conversation_id: str
    user_id: str
    channel: str
    handoff_id: str
    phase: Phase
    agent_id: str | None = None
    is_test: bool = False

    type = "agent_handoff"

    @property
    def key(self) -> ConversationKey:
        return (self.account_id, self.bot_id, self.conversation_id)


@dataclass(frozen=True, slots=True)
class AlertDelivered:
    event_id: str
    account_id: str
    bot_id: str
    occurred_at: int
    alert_id: str
    user_id: str
    channel: str
    is_test: bool = False

    type = "alert_delivered"


ConversationEvent = ConversationTurn | AgentHandoff
Event = ConversationTurn | AgentHandoff | AlertDelivered

_COMMON = ("event_id", "account_id", "bot_id")
_TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "conversation_turn": (*_COMMON, "conversation_id", "user_id", "channel"),
    "agent_handoff": (*_COMMON, "conversation_id", "user_id", "channel", "handoff_id"),
    "alert_delivered": (*_COMMON, "alert_id", "user_id", "channel"),
}


def event_from_mapping(record: Mapping[str, Any], event_type: str | None = None) -> Event:
    """Validate one record and build its event; raises :class:`InvalidEvent` naming the
    record (its ``event_id`` when it has one) and the first thing wrong with it."""
    kind = event_type or record.get("type")
    name = repr(record.get("event_id")) if isinstance(record.get("event_id"), str) else ""
    if kind not in _TEXT_FIELDS:
        raise InvalidEvent(f"field 'type' must be one of {', '.join(EVENT_TYPES)}, got {kind!r}",
                           name)
    values: dict[str, Any] = {}
    for field in _TEXT_FIELDS[kind]:
        value = record.get(field)
        if not isinstance(value, str) or not value:
            raise InvalidEvent(f"field {field!r} must be a non-empty string, got {value!r}", name)
        values[field] = value
    values["occurred_at"] = _occurred_at(record.get("occurred_at"), name)
    is_test = record.get("is_test", False)
    if is_test is None:
        is_test = False
    if not isinstance(is_test, bool):
        raise InvalidEvent(f"field 'is_test' must be true or false, got {is_test!r}", name)
    values["is_test"] = is_test
    if kind == "conversation_turn":
        speaker = record.get("speaker")
        if speaker not in SPEAKERS:
            raise InvalidEvent(f"field 'speaker' must be USER, BOT or AGENT, got {speaker!r}",
                               name)
        return ConversationTurn(speaker=speaker, **values)
    if kind == "agent_handoff":
        phase = record.get("phase")
        if phase not in PHASES:
            raise InvalidEvent(f"field 'phase' must be STARTED or ENDED, got {phase!r}", name)
        agent_id = record.get("agent_id")
        if agent_id is not None and not isinstance(agent_id, str):
            raise InvalidEvent(f"field 'agent_id' must be a string, got {agent_id!r}", name)
        return AgentHandoff(phase=phase, agent_id=agent_id, **values)
    return AlertDelivered(**values)


def _occurred_at(value: Any, name: str) -> int:
    if isinstance(value, str):
        try:
            return parse_rfc3339_ms(value)
        except ValueError as error:
            raise InvalidEvent(f"field 'occurred_at': {error}", name) from None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InvalidEvent(f"field 'occurred_at' must be an RFC 3339 time, got {value!r}", name)


def event_to_mapping(event: Event) -> dict[str, Any]:
    """The inverse of :func:`event_from_mapping`, with ``occurred_at`` in epoch ms."""
    record: dict[str, Any] = {"type": event.type}
    for field in event.__slots__:  # type: ignore[attr-defined]
        record[field] = getattr(event, field)
    return record
