"""The three input events of BILLING_RULES §1, and their validation.

Adapters (JSON Lines, Avro, Kafka) turn a record into a plain mapping whose ``occurred_at``
is either epoch milliseconds or an RFC 3339 string, then call :func:`event_from_mapping`.
Everything about what is a valid event is decided here, once. (An adapter may put a faster,
stricter typed decoder in front, building events with the ``unchecked_*`` builders, as long
as it accepts nothing that :func:`event_from_mapping` would refuse and hands everything it
refuses to :func:`event_from_mapping`: ``streams.replay`` does so with msgspec.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from operator import itemgetter
from typing import Any, Literal, cast

from .exceptions import InvalidEvent
from .timeutil import MAX_EVENT_MS, MIN_EVENT_MS, format_ms, in_event_range, parse_rfc3339_ms

__all__ = [
    "EVENT_TYPES",
    "AgentHandoff",
    "AlertDelivered",
    "ConversationEvent",
    "ConversationKey",
    "ConversationTurn",
    "Event",
    "event_from_mapping",
    "event_time",
    "event_to_mapping",
    "unchecked_alert",
    "unchecked_handoff",
    "unchecked_turn",
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

# -- building events fast ------------------------------------------------------------------
#
# A frozen dataclass's ``__init__`` sets each field with ``object.__setattr__``, which costs
# more than decoding the record. The unchecked builders below are plain classes with the
# same slots (hence the same memory layout) whose ``__init__`` stores the fields and then
# relabels the object: what they return is exactly what the constructor makes, equal,
# hashable and frozen. They check nothing: they are for values that already passed the
# checks of :func:`event_from_mapping` (its fast path, an adapter's typed decoder).


class unchecked_turn:  # called like a function: returns a ConversationTurn
    """``ConversationTurn(...)`` (all fields, in order), faster, without any check."""

    __slots__ = ConversationTurn.__slots__

    def __init__(self, event_id: str, account_id: str, bot_id: str, occurred_at: int,
                 conversation_id: str, user_id: str, channel: str, speaker: Speaker,
                 is_test: bool) -> None:
        self.event_id = event_id
        self.account_id = account_id
        self.bot_id = bot_id
        self.occurred_at = occurred_at
        self.conversation_id = conversation_id
        self.user_id = user_id
        self.channel = channel
        self.speaker = speaker
        self.is_test = is_test
        self.__class__ = ConversationTurn  # type: ignore[assignment]


class unchecked_handoff:  # called like a function: returns an AgentHandoff
    """``AgentHandoff(...)`` (all fields, in order), faster, without any check."""

    __slots__ = AgentHandoff.__slots__

    def __init__(self, event_id: str, account_id: str, bot_id: str, occurred_at: int,
                 conversation_id: str, user_id: str, channel: str, handoff_id: str,
                 phase: Phase, agent_id: str | None, is_test: bool) -> None:
        self.event_id = event_id
        self.account_id = account_id
        self.bot_id = bot_id
        self.occurred_at = occurred_at
        self.conversation_id = conversation_id
        self.user_id = user_id
        self.channel = channel
        self.handoff_id = handoff_id
        self.phase = phase
        self.agent_id = agent_id
        self.is_test = is_test
        self.__class__ = AgentHandoff  # type: ignore[assignment]


class unchecked_alert:  # called like a function: returns an AlertDelivered
    """``AlertDelivered(...)`` (all fields, in order), faster, without any check."""

    __slots__ = AlertDelivered.__slots__

    def __init__(self, event_id: str, account_id: str, bot_id: str, occurred_at: int,
                 alert_id: str, user_id: str, channel: str, is_test: bool) -> None:
        self.event_id = event_id
        self.account_id = account_id
        self.bot_id = bot_id
        self.occurred_at = occurred_at
        self.alert_id = alert_id
        self.user_id = user_id
        self.channel = channel
        self.is_test = is_test
        self.__class__ = AlertDelivered  # type: ignore[assignment]


# The relabelling needs the same fields in the same order: a new field goes in both.
assert unchecked_turn.__slots__ == tuple(f.name for f in fields(ConversationTurn))
assert unchecked_handoff.__slots__ == tuple(f.name for f in fields(AgentHandoff))
assert unchecked_alert.__slots__ == tuple(f.name for f in fields(AlertDelivered))


# -- validation ----------------------------------------------------------------------------

_COMMON = ("event_id", "account_id", "bot_id")
_TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "conversation_turn": (*_COMMON, "conversation_id", "user_id", "channel"),
    "agent_handoff": (*_COMMON, "conversation_id", "user_id", "channel", "handoff_id"),
    "alert_delivered": (*_COMMON, "alert_id", "user_id", "channel"),
}


def event_from_mapping(record: Mapping[str, Any], event_type: str | None = None) -> Event:
    """Validate one record and build its event; raises :class:`InvalidEvent` naming the
    record (its ``event_id`` when it has one) and the first thing wrong with it.

    A well-formed record (a plain ``dict``, every field of the exact type and form the
    contract asks for) takes a fast path; any other record, valid or not, goes through
    :func:`_checked_event`, which checks field by field and names the first fault. The fast
    path accepts only what :func:`_checked_event` accepts, and builds the same event.
    """
    kind = event_type or record.get("type")
    if type(record) is dict and type(kind) is str:
        event: Event | None
        if kind == "conversation_turn":
            event = _fast_turn(record)
        elif kind == "agent_handoff":
            event = _fast_handoff(record)
        elif kind == "alert_delivered":
            event = _fast_alert(record)
        else:
            event = None
        if event is not None:
            return event
    return _checked_event(record, kind)


_turn_values = itemgetter("event_id", "account_id", "bot_id", "conversation_id", "user_id",
                          "channel", "occurred_at", "speaker")
_handoff_values = itemgetter("event_id", "account_id", "bot_id", "conversation_id", "user_id",
                             "channel", "handoff_id", "occurred_at", "phase")
_alert_values = itemgetter("event_id", "account_id", "bot_id", "alert_id", "user_id",
                           "channel", "occurred_at")


def _texts_ok(values: tuple[Any, ...]) -> bool:
    """Every value a non-empty string (``join`` refuses anything that is not a ``str``)."""
    try:
        "".join(values)
    except TypeError:
        return False
    return all(values)


def _fast_time(value: Any) -> int | None:
    """``occurred_at`` of a well-formed record, or ``None`` (then the checked path decides)."""
    if type(value) is int:
        return value if in_event_range(value) else None
    if type(value) is str:
        try:
            at = parse_rfc3339_ms(value)
        except ValueError:
            return None
        return at if in_event_range(at) else None
    return None


def _fast_turn(record: dict[str, Any]) -> ConversationTurn | None:
    try:
        event_id, account_id, bot_id, conversation_id, user_id, channel, at, speaker = (
            _turn_values(record))
    except KeyError:
        return None
    is_test = record.get("is_test", False)
    if ((is_test is False or is_test is True) and (speaker == "USER" or speaker == "BOT"
            or speaker == "AGENT") and type(speaker) is str
            and _texts_ok((event_id, account_id, bot_id, conversation_id, user_id, channel))):
        occurred_at = _fast_time(at)
        if occurred_at is not None:
            return cast(ConversationTurn, unchecked_turn(
                event_id, account_id, bot_id, occurred_at, conversation_id, user_id, channel,
                cast(Speaker, speaker), is_test))
    return None


def _fast_handoff(record: dict[str, Any]) -> AgentHandoff | None:
    try:
        event_id, account_id, bot_id, conversation_id, user_id, channel, handoff_id, at, \
            phase = _handoff_values(record)
    except KeyError:
        return None
    is_test = record.get("is_test", False)
    agent_id = record.get("agent_id")
    if ((is_test is False or is_test is True) and (phase == "STARTED" or phase == "ENDED")
            and type(phase) is str and (agent_id is None or type(agent_id) is str)
            and _texts_ok((event_id, account_id, bot_id, conversation_id, user_id, channel,
                           handoff_id))):
        occurred_at = _fast_time(at)
        if occurred_at is not None:
            return cast(AgentHandoff, unchecked_handoff(
                event_id, account_id, bot_id, occurred_at, conversation_id, user_id, channel,
                handoff_id, cast(Phase, phase), agent_id, is_test))
    return None


def _fast_alert(record: dict[str, Any]) -> AlertDelivered | None:
    try:
        event_id, account_id, bot_id, alert_id, user_id, channel, at = _alert_values(record)
    except KeyError:
        return None
    is_test = record.get("is_test", False)
    if ((is_test is False or is_test is True)
            and _texts_ok((event_id, account_id, bot_id, alert_id, user_id, channel))):
        occurred_at = _fast_time(at)
        if occurred_at is not None:
            return cast(AlertDelivered, unchecked_alert(
                event_id, account_id, bot_id, occurred_at, alert_id, user_id, channel, is_test))
    return None


def _checked_event(record: Mapping[str, Any], kind: Any) -> Event:
    """The reference validation: each rule in turn, the first fault raised by name."""
    name = repr(record.get("event_id")) if isinstance(record.get("event_id"), str) else ""
    if not isinstance(kind, str) or kind not in _TEXT_FIELDS:
        raise InvalidEvent(f"field 'type' must be one of {', '.join(EVENT_TYPES)}, got {kind!r}",
                           name)
    values: dict[str, Any] = {}
    for field in _TEXT_FIELDS[kind]:
        value = record.get(field)
        if not isinstance(value, str) or not value:
            raise InvalidEvent(f"field {field!r} must be a non-empty string, got {value!r}", name)
        values[field] = value
    values["occurred_at"] = event_time(record.get("occurred_at"), name)
    is_test = record.get("is_test", False)
    if is_test is None:
        is_test = False
    if not isinstance(is_test, bool):
        raise InvalidEvent(f"field 'is_test' must be true or false, got {is_test!r}", name)
    values["is_test"] = is_test
    if kind == "conversation_turn":
        speaker = record.get("speaker")
        if not isinstance(speaker, str) or speaker not in SPEAKERS:
            raise InvalidEvent(f"field 'speaker' must be USER, BOT or AGENT, got {speaker!r}",
                               name)
        return ConversationTurn(speaker=speaker, **values)  # type: ignore[arg-type]
    if kind == "agent_handoff":
        phase = record.get("phase")
        if not isinstance(phase, str) or phase not in PHASES:
            raise InvalidEvent(f"field 'phase' must be STARTED or ENDED, got {phase!r}", name)
        agent_id = record.get("agent_id")
        if agent_id is not None and not isinstance(agent_id, str):
            raise InvalidEvent(f"field 'agent_id' must be a string, got {agent_id!r}", name)
        return AgentHandoff(phase=phase, agent_id=agent_id, **values)  # type: ignore[arg-type]
    return AlertDelivered(**values)


def event_time(value: Any, name: str, field: str = "occurred_at") -> int:
    """An event's time field (an RFC 3339 string or epoch ms) within the bounds every event
    time has (years 2000 to 2200); :class:`InvalidEvent` names the record and the field.
    The one check of a time, for usage and account events alike."""
    if isinstance(value, str):
        try:
            at = parse_rfc3339_ms(value)
        except ValueError as error:
            raise InvalidEvent(f"field {field!r}: {error}", name) from None
    elif isinstance(value, int) and not isinstance(value, bool):
        at = value
    else:
        raise InvalidEvent(f"field {field!r} must be an RFC 3339 time, got {value!r}", name)
    if not in_event_range(at):
        raise InvalidEvent(
            f"field {field!r} must be between {format_ms(MIN_EVENT_MS)} and "
            f"{format_ms(MAX_EVENT_MS)} (years 2000 to 2200), got {value!r}", name)
    return at


def event_to_mapping(event: Event) -> dict[str, Any]:
    """The inverse of :func:`event_from_mapping`, with ``occurred_at`` in epoch ms."""
    record: dict[str, Any] = {"type": event.type}
    for field in event.__slots__:
        record[field] = getattr(event, field)
    return record
