"""Round trips through both framings, for every schema, with generated records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botbill.schemas import AvroCodec

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
NAMES = AvroCodec().schema_names
_PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "string": st.text(),
    "bytes": st.binary(),
}


def records(schema: Any) -> st.SearchStrategy[Any]:
    """Any valid value of a (raw, JSON) Avro schema of the kinds botbill uses."""
    if isinstance(schema, list):
        return st.one_of([records(branch) for branch in schema])
    if isinstance(schema, str):
        return _PRIMITIVES[schema]
    if schema["type"] == "enum":
        return st.sampled_from(schema["symbols"])
    if schema["type"] == "array":
        return st.lists(records(schema["items"]), max_size=3)
    if schema["type"] == "record":
        return st.fixed_dictionaries({f["name"]: records(f["type"]) for f in schema["fields"]})
    return records(schema["type"])


def strategy(name: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    raw = json.loads((SCHEMA_DIR / f"{name}.avsc").read_text())
    return st.tuples(st.just(name), records(raw))


ANY_RECORD = st.one_of([strategy(name) for name in NAMES])


def test_every_schema_has_a_sample(sample: Any) -> None:
    assert NAMES == ("AgentHandoff", "AlertDelivered", "AlertSession", "AutoReloadSet",
                     "BotEntitlement", "BotNotification", "BotRegistered",
                     "ConversationTurn", "CreditsGranted", "DeadLetter",
                     "ExtensionDecided", "ExtensionRequested", "LateEvent", "OrderPlaced",
                     "OrderSettled", "OwnerChanged", "PlanChangeRequested",
                     "UsageSessionChange", "WalletLedgerEntry")
    for name in NAMES:
        assert sample(name)


@pytest.mark.parametrize("name", NAMES)
def test_sample_round_trip_single_object(name: str, sample: Any) -> None:
    codec = AvroCodec()
    data = codec.encode(name, sample(name))
    assert data[:2] == b"\xc3\x01"
    assert codec.decode(data) == (name, sample(name))
    assert codec.decode(data, name) == (name, sample(name))


@pytest.mark.parametrize("name", NAMES)
def test_sample_round_trip_registry(name: str, sample: Any, registry_url: str) -> None:
    data = AvroCodec(registry_url).encode(name, sample(name), topic="some-topic")
    assert data[:1] == b"\x00"
    assert AvroCodec(registry_url).decode(data) == (name, sample(name))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_RECORD)
def test_generated_round_trip_single_object(item: tuple[str, dict[str, Any]]) -> None:
    name, record = item
    codec = AvroCodec()
    assert codec.decode(codec.encode(name, record)) == (name, record)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_RECORD)
def test_generated_round_trip_registry(item: tuple[str, dict[str, Any]]) -> None:
    name, record = item
    codec = AvroCodec("mock://botbill-generated")
    assert codec.decode(codec.encode(name, record, topic="t")) == (name, record)


def test_decoded_values_are_plain_ints_and_strings(sample: Any) -> None:
    codec = AvroCodec()
    _, record = codec.decode(codec.encode("ConversationTurn", sample("ConversationTurn")))
    assert type(record["occurred_at"]) is int
    assert type(record["speaker"]) is str


def test_defaults_fill_omitted_optional_fields(sample: Any) -> None:
    codec = AvroCodec()
    handoff = sample("AgentHandoff")
    del handoff["agent_id"], handoff["is_test"]
    _, record = codec.decode(codec.encode("AgentHandoff", handoff))
    assert record["agent_id"] is None and record["is_test"] is False


def test_json_lines_type_field_is_accepted_and_not_written(sample: Any) -> None:
    codec = AvroCodec()
    plain = codec.encode("ConversationTurn", sample("ConversationTurn"))
    typed = codec.encode("ConversationTurn", sample("ConversationTurn", type="conversation_turn"))
    assert typed == plain


def test_registry_subjects_follow_topic_name_strategy(sample: Any, registry_url: str) -> None:
    from botbill.schemas._registry import _client

    codec = AvroCodec(registry_url)
    turn = codec.encode("ConversationTurn", sample("ConversationTurn"), topic="conversation-turns")
    codec.encode("AlertSession", sample("AlertSession"))
    assert set(_client(registry_url).get_subjects()) == {"conversation-turns-value",
                                                         "AlertSession"}
    schema_id = int.from_bytes(turn[1:5], "big")
    assert _client(registry_url).get_schema(schema_id).schema_type == "AVRO"


def test_registry_codec_reads_single_object_messages(sample: Any, registry_url: str) -> None:
    data = AvroCodec().encode("AlertSession", sample("AlertSession"))
    assert AvroCodec(registry_url).decode(data) == ("AlertSession", sample("AlertSession"))

