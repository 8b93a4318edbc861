"""The .avsc files themselves: documented, named, and in step with billing_rules."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from botbill import schemas
from botbill.billing_rules import events, sessions
from botbill.schemas import SchemaError, event_schema_name, schema_event_type

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
FILES = sorted(SCHEMA_DIR.glob("*.avsc")) + sorted(SCHEMA_DIR.glob("history/*.avsc"))


def load(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{name}.avsc").read_text())


def field_names(name: str) -> list[str]:
    return [field["name"] for field in load(name)["fields"]]


def test_public_api() -> None:
    assert schemas.__all__ == ["ACCOUNT_EVENT_SCHEMAS", "AvroCodec", "SchemaError",
                               "SchemaRegistryUnavailable", "account_event_schema_name",
                               "event_schema_name", "iter_container_records",
                               "schema_event_type", "write_container"]


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_every_schema_and_field_is_documented(path: Path) -> None:
    schema = json.loads(path.read_text())
    assert schema["type"] == "record" and schema["namespace"] == "dev.botbill"
    assert path.name.split(".")[0] == schema["name"]
    assert schema["doc"].strip()
    for field in schema["fields"]:
        assert field.get("doc", "").strip(), f"{schema['name']}.{field['name']} has no doc"
        assert "logicalType" not in json.dumps(field["type"]), "times are plain long ms"


def test_history_files_are_versioned() -> None:
    for path in SCHEMA_DIR.glob("history/*.avsc"):
        name, version, suffix = path.name.split(".")
        assert (SCHEMA_DIR / f"{name}.avsc").exists() and version[0] == "v" and suffix == "avsc"


@pytest.mark.parametrize(("name", "event"), [("ConversationTurn", events.ConversationTurn),
                                             ("AgentHandoff", events.AgentHandoff),
                                             ("AlertDelivered", events.AlertDelivered)])
def test_inputs_match_billing_rules_events(name: str, event: type) -> None:
    assert set(field_names(name)) == {field.name for field in dataclasses.fields(event)}
    types = {field["name"]: field["type"] for field in load(name)["fields"]}
    assert types["occurred_at"] == "long"
    assert types["is_test"] == "boolean"
    assert next(f for f in load(name)["fields"] if f["name"] == "is_test")["default"] is False


def test_outputs_match_billing_rules_sessions() -> None:
    usage = [field.name for field in dataclasses.fields(sessions.UsageSession)]
    assert field_names("UsageSessionChange") == [*usage, "revision", "voided"]
    alert = [field.name for field in dataclasses.fields(sessions.AlertSession)]
    assert field_names("AlertSession") == alert


def test_enums_match_billing_rules() -> None:
    speaker = next(f for f in load("ConversationTurn")["fields"] if f["name"] == "speaker")
    phase = next(f for f in load("AgentHandoff")["fields"] if f["name"] == "phase")
    assert set(speaker["type"]["symbols"]) == events.SPEAKERS
    assert set(phase["type"]["symbols"]) == events.PHASES


def test_event_schema_names() -> None:
    for event_type in events.EVENT_TYPES:
        assert schema_event_type(event_schema_name(event_type)) == event_type
    assert event_schema_name("agent_handoff") == "AgentHandoff"
    with pytest.raises(SchemaError, match="'handoff' is not one of"):
        event_schema_name("handoff")
    with pytest.raises(SchemaError, match="not an input event schema"):
        schema_event_type("UsageSessionChange")
