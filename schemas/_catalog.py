"""The ``.avsc`` files, loaded and parsed once per process.

Current versions live beside this module (``<Name>.avsc``); every older version that may
still be on a topic or in a file lives in ``history/<Name>.v<N>.avsc``, so that bytes written
with it can be found by fingerprint and resolved to the current version.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from ._check import Check, compile_check
from .exceptions import SchemaError

__all__ = [
    "ACCOUNT_EVENT_SCHEMAS",
    "EVENT_SCHEMAS",
    "Catalog",
    "SchemaVersion",
    "account_event_schema_name",
    "catalog",
    "event_schema_name",
    "schema_event_type",
    "version_from_json",
]

SCHEMA_DIR = Path(__file__).resolve().parent
EVENT_SCHEMAS = {
    "conversation_turn": "ConversationTurn",
    "agent_handoff": "AgentHandoff",
    "alert_delivered": "AlertDelivered",
}
"""Input event type (the JSON Lines ``type``) -> schema name, in BILLING_RULES §1 order."""
_EVENT_TYPES = {name: event_type for event_type, name in EVENT_SCHEMAS.items()}
ACCOUNT_EVENT_SCHEMAS = {
    "bot_registered": "BotRegistered",
    "plan_change_requested": "PlanChangeRequested",
    "order_placed": "OrderPlaced",
    "order_settled": "OrderSettled",
    "credits_granted": "CreditsGranted",
    "auto_reload_set": "AutoReloadSet",
    "extension_requested": "ExtensionRequested",
    "extension_decided": "ExtensionDecided",
    "owner_changed": "OwnerChanged",
}
"""Account event type (MONEY_RULES §1) -> schema name; topic ``account-events``, key bot_id."""
# JSON Lines records carry their ``type``: the check of every event schema allows exactly it.
_TYPED = {**_EVENT_TYPES, **{name: kind for kind, name in ACCOUNT_EVENT_SCHEMAS.items()}}


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """One version of one schema: ``name`` is the short record name (``ConversationTurn``),
    ``text`` the JSON sent to a registry, ``fingerprint`` the 8-byte little-endian
    CRC-64-AVRO of the parsing canonical form (the single-object encoding header)."""

    name: str
    text: str
    parsed: Any
    fingerprint: bytes


@dataclass(frozen=True, slots=True)
class Catalog:
    current: dict[str, SchemaVersion]
    by_fingerprint: dict[bytes, SchemaVersion]
    checks: dict[str, Check]


def version_from_json(text: str) -> SchemaVersion:
    """Parse one schema (a file, or a registry's answer)."""
    raw = json.loads(text)
    parsed = parse_schema(raw)
    name = str(parsed["name"] if isinstance(parsed, dict) else parsed).rsplit(".", 1)[-1]
    canonical = to_parsing_canonical_form(raw)
    return SchemaVersion(name=name, text=json.dumps(raw, separators=(",", ":")), parsed=parsed,
                         fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")))


@functools.cache
def catalog() -> Catalog:
    """Every schema of the package; parsed once, shared by all codecs."""
    current = {v.name: v for v in map(_load, sorted(SCHEMA_DIR.glob("*.avsc")))}
    history = [_load(path) for path in sorted(SCHEMA_DIR.glob("history/*.avsc"))]
    checks = {
        name: compile_check(version.parsed,
                            {"type": _TYPED[name]} if name in _TYPED else None)
        for name, version in current.items()
    }
    by_fingerprint = {v.fingerprint: v for v in (*history, *current.values())}
    return Catalog(current=current, by_fingerprint=by_fingerprint, checks=checks)


def _load(path: Path) -> SchemaVersion:
    return version_from_json(path.read_text(encoding="utf-8"))


def event_schema_name(event_type: str) -> str:
    """``conversation_turn`` -> ``ConversationTurn`` (and so on for the three input events)."""
    try:
        return EVENT_SCHEMAS[event_type]
    except (KeyError, TypeError):
        raise SchemaError("", "type", f"{event_type!r} is not one of "
                          f"{', '.join(EVENT_SCHEMAS)}") from None


def account_event_schema_name(event_type: str) -> str:
    """``order_placed`` -> ``OrderPlaced`` (and so on for the nine account events)."""
    try:
        return ACCOUNT_EVENT_SCHEMAS[event_type]
    except (KeyError, TypeError):
        raise SchemaError("", "type", f"{event_type!r} is not one of "
                          f"{', '.join(ACCOUNT_EVENT_SCHEMAS)}") from None


def schema_event_type(schema_name: str) -> str:
    """``ConversationTurn`` -> ``conversation_turn``: the reverse of :func:`event_schema_name`."""
    try:
        return _EVENT_TYPES[schema_name]
    except (KeyError, TypeError):
        raise SchemaError(str(schema_name), "", "not an input event schema (expected one of "
                          f"{', '.join(_EVENT_TYPES)})") from None
