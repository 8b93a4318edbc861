"""Data written with an older version of a schema stays readable with the current one."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema
from fastavro import parse_schema, schemaless_writer
from fastavro.schema import to_parsing_canonical_form
from hypothesis import given, settings
from hypothesis import strategies as st

from botbill.schemas import AvroCodec

HISTORY = Path(__file__).resolve().parents[2] / "schemas" / "history"
V1 = json.loads((HISTORY / "ConversationTurn.v1.avsc").read_text())
_EMPTY = 0xC15D213AA4D7A795


def rabin(data: bytes) -> int:
    """CRC-64-AVRO straight from the Avro specification, independent of fastavro."""
    table = []
    for byte in range(256):
        fp = byte
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def body(schema: Any, record: dict[str, Any]) -> bytes:
    out = BytesIO()
    schemaless_writer(out, parse_schema(schema), record)
    return out.getvalue()


def single_object(schema: Any, record: dict[str, Any]) -> bytes:
    fingerprint = rabin(to_parsing_canonical_form(schema).encode()).to_bytes(8, "little")
    return b"\xc3\x01" + fingerprint + body(schema, record)


def v1_turn(sample: Any) -> dict[str, Any]:
    record = sample("ConversationTurn")
    del record["is_test"]
    return record


def test_rabin_matches_the_specification_vector() -> None:
    assert rabin(b'"null"') == 7195948357588979594


def test_v1_single_object_reads_as_current(sample: Any) -> None:
    data = single_object(V1, v1_turn(sample))
    assert AvroCodec().decode(data) == ("ConversationTurn", sample("ConversationTurn"))
    assert AvroCodec().decode(data, "ConversationTurn")[1]["is_test"] is False


def test_v1_differs_from_current_on_the_wire(sample: Any) -> None:
    current = AvroCodec().encode("ConversationTurn", sample("ConversationTurn"))
    assert current[2:10] != single_object(V1, v1_turn(sample))[2:10]


def test_current_single_object_header_is_the_spec_fingerprint(sample: Any) -> None:
    raw = json.loads((HISTORY.parent / "AlertSession.avsc").read_text())
    data = AvroCodec().encode("AlertSession", sample("AlertSession"))
    assert data == single_object(raw, sample("AlertSession"))


def test_v1_through_registry_reads_as_current(sample: Any, registry_url: str) -> None:
    from botbill.schemas._registry import _client

    client = _client(registry_url)
    v1_id = client.register_schema("conversation-turns-value", Schema(json.dumps(V1), "AVRO"))
    old = b"\x00" + v1_id.to_bytes(4, "big") + body(V1, v1_turn(sample))
    codec = AvroCodec(registry_url)
    new = codec.encode("ConversationTurn", sample("ConversationTurn", is_test=True),
                       topic="conversation-turns")
    assert new[1:5] != old[1:5]
    assert sorted(client.get_versions("conversation-turns-value")) == [1, 2]
    assert codec.decode(old) == ("ConversationTurn", sample("ConversationTurn"))
    assert codec.decode(new)[1]["is_test"] is True


@pytest.mark.parametrize("path", sorted(HISTORY.glob("*.avsc")), ids=lambda path: path.name)
def test_every_history_version_is_known_and_resolvable(path: Path, sample: Any) -> None:
    """A version moved to history/ must stay readable: its data resolves to the current one."""
    raw = json.loads(path.read_text())
    name = path.name.split(".")[0]
    current = sample(name)
    old = {f["name"]: current[f["name"]] for f in raw["fields"]}
    assert AvroCodec().decode(single_object(raw, old))[0] == name


@settings(max_examples=100)
@given(st.text(), st.integers(-(2**63), 2**63 - 1), st.sampled_from(["USER", "BOT", "AGENT"]))
def test_generated_v1_turns_get_is_test_false(text: str, when: int, speaker: str) -> None:
    record = {"event_id": text, "account_id": text, "bot_id": "b", "occurred_at": when,
              "conversation_id": text, "user_id": "u", "channel": text, "speaker": speaker}
    name, decoded = AvroCodec().decode(single_object(V1, record))
    assert (name, decoded) == ("ConversationTurn", {**record, "is_test": False})
