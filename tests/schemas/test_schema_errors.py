"""Bad records and bad bytes: always a SchemaError that names schema, field and reason."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryError
from hypothesis import given, settings
from hypothesis import strategies as st

from botbill.billing_rules.exceptions import BotbillError
from botbill.schemas import AvroCodec, SchemaError, SchemaRegistryUnavailable


@pytest.mark.parametrize(("name", "overrides", "message"), [
    ("ConversationTurn", {"speaker": "ROBOT"},
     "ConversationTurn.speaker: 'ROBOT' is not one of USER, BOT, AGENT"),
    ("ConversationTurn", {"occurred_at": "2026-11-01T10:00:00.000Z"},
     "ConversationTurn.occurred_at: expected long, got str"),
    ("ConversationTurn", {"occurred_at": True},
     "ConversationTurn.occurred_at: expected long, got bool"),
    ("ConversationTurn", {"occurred_at": 2**63},
     f"ConversationTurn.occurred_at: {2**63} is out of range for long"),
    ("ConversationTurn", {"user_id": None}, "ConversationTurn.user_id: expected string, got null"),
    ("ConversationTurn", {"is_tset": True},
     "ConversationTurn.is_tset: not a field of this schema"),
    ("ConversationTurn", {"type": "alert_delivered"},
     "ConversationTurn.type: 'alert_delivered' does not match this schema "
     "(expected 'conversation_turn')"),
    ("AgentHandoff", {"phase": "PAUSED"},
     "AgentHandoff.phase: 'PAUSED' is not one of STARTED, ENDED"),
    ("AgentHandoff", {"agent_id": 7}, "AgentHandoff.agent_id: expected null or string, got int"),
    ("AlertDelivered", {"is_test": "yes"}, "AlertDelivered.is_test: expected boolean, got str"),
    ("UsageSessionChange", {"session_index": 2**31},
     f"UsageSessionChange.session_index: {2**31} is out of range for int"),
    ("DeadLetter", {"key": "conv-1"}, "DeadLetter.key: expected null or bytes, got str"),
    ("LateEvent", {"conversation_id": 3},
     "LateEvent.conversation_id: expected null or string, got int"),
])
def test_record_errors_name_field_and_reason(name: str, overrides: dict[str, Any], message: str,
                                             sample: Any) -> None:
    with pytest.raises(SchemaError) as caught:
        AvroCodec().encode(name, sample(name, **overrides))
    assert str(caught.value) == message
    assert caught.value.schema == name
    assert caught.value.field == message.split(":")[0].split(".", 1)[1]


def test_missing_required_field(sample: Any) -> None:
    record = sample("ConversationTurn")
    del record["speaker"]
    with pytest.raises(SchemaError, match=r"^ConversationTurn\.speaker: missing"):
        AvroCodec().encode("ConversationTurn", record)


def test_not_a_record_and_unknown_schema() -> None:
    codec = AvroCodec()
    with pytest.raises(SchemaError, match=r"^ConversationTurn: expected a ConversationTurn record"):
        codec.encode("ConversationTurn", [])  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match=r"^Turn: unknown schema"):
        codec.encode("Turn", {})


def test_schema_error_is_a_botbill_error() -> None:
    assert issubclass(SchemaError, BotbillError)
    assert issubclass(SchemaRegistryUnavailable, BotbillError)
    assert not issubclass(SchemaRegistryUnavailable, SchemaError)  # retry, never dead-letter


MESSAGE = AvroCodec().encode("ConversationTurn", {
    "event_id": "x001", "account_id": "acct-1", "bot_id": "bot-a", "occurred_at": 1_793_527_200_000,
    "conversation_id": "conv-1", "user_id": "u-1", "channel": "web", "speaker": "USER",
})


@pytest.mark.parametrize(("mangle", "reason"), [
    (lambda m: b"", "unknown framing"),
    (lambda m: b"{\"type\": 1}", "unknown framing"),
    (lambda m: m[:6], "truncated single-object header"),
    (lambda m: m[:2] + bytes(8) + m[10:], "unknown writer schema fingerprint 0000000000000000"),
    (lambda m: m[:-1], "undecodable body"),
    (lambda m: m[:12], "undecodable body"),
    (lambda m: m + b"\x00", "1 bytes left after the record"),
    (lambda m: b"\x00\x00\x00", "truncated Confluent header"),
    (lambda m: b"\x00\x00\x00\x00\x05" + m[10:], "schema id 5) but no schema registry"),
])
def test_undecodable_bytes(mangle: Any, reason: str) -> None:
    with pytest.raises(SchemaError, match=re.escape(reason)):
        AvroCodec().decode(mangle(MESSAGE))


def test_unknown_registry_id(registry_url: str) -> None:
    with pytest.raises(SchemaError, match=r"schema id 99: Schema Not Found \(HTTP 404\)"):
        AvroCodec(registry_url).decode(b"\x00\x00\x00\x00\x63" + MESSAGE[10:])


def test_reader_schema_must_match_writer() -> None:
    with pytest.raises(SchemaError, match=r"^AgentHandoff: message was written with Conversation"):
        AvroCodec().decode(MESSAGE, "AgentHandoff")
    with pytest.raises(SchemaError, match=r"^Nope: unknown reader schema"):
        AvroCodec().decode(MESSAGE, "Nope")


@pytest.mark.parametrize(("status", "error"), [(503, SchemaRegistryUnavailable),
                                               (401, SchemaRegistryUnavailable),
                                               (409, SchemaError)])
def test_registry_errors_are_translated(status: int, error: type[Exception], sample: Any,
                                        registry_url: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from botbill.schemas._registry import _client

    def refuse(*_: Any, **__: Any) -> int:
        raise SchemaRegistryError(status, -1, "no")

    monkeypatch.setattr(_client(registry_url), "register_schema", refuse)
    with pytest.raises(error, match="cannot register under 'conversation-turns-value'"):
        AvroCodec(registry_url).encode("ConversationTurn", sample("ConversationTurn"),
                                       topic="conversation-turns")


@settings(max_examples=500)
@given(st.data())
def test_corrupted_messages_raise_only_schema_error(data: st.DataObject) -> None:
    """A flipped byte, a cut or random bytes: decoded into something, or a SchemaError."""
    position = data.draw(st.integers(0, len(MESSAGE) - 1))
    corrupted = data.draw(st.one_of(
        st.binary().map(lambda tail: MESSAGE[:position] + tail),
        st.integers(0, 255).map(lambda byte: MESSAGE[:position] + bytes([byte])
                                + MESSAGE[position + 1:]),
        st.binary(),
    ))
    with contextlib.suppress(SchemaError):
        AvroCodec().decode(corrupted)
