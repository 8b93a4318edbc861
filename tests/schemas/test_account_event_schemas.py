"""The nine account event schemas (MONEY_RULES §1): field names exactly as the contract's
table, documented, and round-tripping through the codec; a wrong shape names the field."""

from __future__ import annotations

import json

import pytest

from botbill.schemas import ACCOUNT_EVENT_SCHEMAS, AvroCodec, SchemaError
from botbill.schemas._catalog import SCHEMA_DIR

COMMON = ["event_id", "account_id", "bot_id", "occurred_at"]
CONTRACT = {  # MONEY_RULES §1, "extra fields"
    "bot_registered": ["plan_id", "owner_user_id"],
    "plan_change_requested": ["plan_id"],
    "order_placed": ["order_id", "amount_cents", "payment_method"],
    "order_settled": ["order_id", "status"],
    "credits_granted": ["grant_id", "amount_cents", "expires_at"],
    "auto_reload_set": ["enabled", "threshold_cents", "amount_cents"],
    "extension_requested": ["request_id", "days"],
    "extension_decided": ["request_id", "approved", "days"],
    "owner_changed": ["owner_user_id"],
}
SAMPLES = {
    "bot_registered": {"plan_id": "standard", "owner_user_id": "o1"},
    "plan_change_requested": {"plan_id": "advanced"},
    "order_placed": {"order_id": "o", "amount_cents": 10_000, "payment_method": "card"},
    "order_settled": {"order_id": "o", "status": "paid"},
    "credits_granted": {"grant_id": "g", "amount_cents": 500, "expires_at": None},
    "auto_reload_set": {"enabled": True, "threshold_cents": 2_000, "amount_cents": 10_000},
    "extension_requested": {"request_id": "r", "days": 7},
    "extension_decided": {"request_id": "r", "approved": True, "days": 7},
    "owner_changed": {"owner_user_id": "o2"},
}


def test_one_schema_per_type_with_the_contracts_fields_and_docs():
    assert set(ACCOUNT_EVENT_SCHEMAS) == set(CONTRACT)
    for kind, name in ACCOUNT_EVENT_SCHEMAS.items():
        schema = json.loads((SCHEMA_DIR / f"{name}.avsc").read_text())
        assert [f["name"] for f in schema["fields"]] == COMMON + CONTRACT[kind]
        assert schema["doc"] and all(f.get("doc") for f in schema["fields"])


@pytest.mark.parametrize("kind", sorted(CONTRACT))
def test_round_trip_with_the_jsonl_type_field(kind):
    codec = AvroCodec()
    record = {"event_id": "e1", "account_id": "a", "bot_id": "b", "occurred_at": 1_000,
              **SAMPLES[kind]}
    data = codec.encode(ACCOUNT_EVENT_SCHEMAS[kind], {"type": kind, **record})
    assert codec.decode(data) == (ACCOUNT_EVENT_SCHEMAS[kind], record)


@pytest.mark.parametrize(("kind", "change", "field"), [
    ("order_placed", {"payment_method": "cash"}, "payment_method"),
    ("order_placed", {"amount_cents": "100"}, "amount_cents"),
    ("order_settled", {"status": "pending"}, "status"),
    ("extension_decided", {"approved": "yes"}, "approved"),
    ("bot_registered", {"plan": "standard"}, "plan"),
    ("owner_changed", {"type": "order_placed"}, "type"),
])
def test_a_wrong_shape_names_the_field(kind, change, field):
    record = {"type": kind, "event_id": "e1", "account_id": "a", "bot_id": "b",
              "occurred_at": 1, **SAMPLES[kind], **change}
    with pytest.raises(SchemaError) as raised:
        AvroCodec().encode(ACCOUNT_EVENT_SCHEMAS[kind], record)
    assert field in str(raised.value)
