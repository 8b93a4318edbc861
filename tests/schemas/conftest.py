"""Factories for records of each schema, in the shapes the rest of botbill produces."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

_SAMPLES: dict[str, dict[str, Any]] = {
    "ConversationTurn": {
        "event_id": "x001", "account_id": "acct-1", "bot_id": "bot-a",
        "occurred_at": 1_793_527_200_000, "conversation_id": "conv-1", "user_id": "u-1",
        "channel": "web", "speaker": "USER", "is_test": False,
    },
    "AgentHandoff": {
        "event_id": "x002", "account_id": "acct-1", "bot_id": "bot-a",
        "occurred_at": 1_793_527_260_000, "conversation_id": "conv-1", "user_id": "u-1",
        "channel": "web", "handoff_id": "h-1", "phase": "STARTED", "agent_id": "agent-7",
        "is_test": False,
    },
    "AlertDelivered": {
        "event_id": "x003", "account_id": "acct-1", "bot_id": "bot-a",
        "occurred_at": 1_793_527_320_000, "alert_id": "report-8h", "user_id": "u-2",
        "channel": "email", "is_test": True,
    },
    "UsageSessionChange": {
        "account_id": "acct-1", "bot_id": "bot-a", "conversation_id": "conv-1",
        "channel": "web", "user_id": "u-1", "conversation_session_start": 1_793_527_200_000,
        "conversation_session_end": 1_793_529_060_000, "session_index": 2,
        "billing_session_start": 1_793_528_100_000, "billing_session_end": 1_793_529_000_000,
        "revision": 7, "voided": False,
    },
    "AlertSession": {
        "account_id": "acct-1", "bot_id": "bot-a", "event_id": "x003",
        "delivered_at": 1_793_527_320_000,
    },
    "LateEvent": {
        "event_type": "conversation_turn", "event_id": "x009", "account_id": "acct-1",
        "bot_id": "bot-a", "conversation_id": "conv-1", "occurred_at": 1_793_527_200_000,
        "reason": "visit closed at 2026-11-01T10:50:00.000Z", "watermark": 1_793_530_000_000,
        "payload": '{"type": "conversation_turn", "event_id": "x009"}',
    },
    "DeadLetter": {
        "source_topic": "conversation-turns", "source_partition": 3, "source_offset": 1234,
        "key": b"conv-1", "value": b"\xc3\x01garbage", "error": "unknown fingerprint",
        "failed_at": 1_793_530_000_000,
    },
}
_ACCOUNT = {"event_id": "x100", "account_id": "acct-1", "bot_id": "bot-a",
            "occurred_at": 1_793_527_200_000}
_SAMPLES.update({  # account events (MONEY_RULES §1)
    "BotRegistered": {**_ACCOUNT, "plan_id": "standard", "owner_user_id": "u-1"},
    "PlanChangeRequested": {**_ACCOUNT, "plan_id": "advanced"},
    "OrderPlaced": {**_ACCOUNT, "order_id": "o-1", "amount_cents": 10_000,
                    "payment_method": "wire_transfer"},
    "OrderSettled": {**_ACCOUNT, "order_id": "o-1", "status": "failed"},
    "CreditsGranted": {**_ACCOUNT, "grant_id": "g-1", "amount_cents": 700,
                       "expires_at": 1_800_000_000_000},
    "AutoReloadSet": {**_ACCOUNT, "enabled": True, "threshold_cents": 2_000,
                      "amount_cents": 10_000},
    "ExtensionRequested": {**_ACCOUNT, "request_id": "r-1", "days": 14},
    "ExtensionDecided": {**_ACCOUNT, "request_id": "r-1", "approved": False, "days": 14},
    "OwnerChanged": {**_ACCOUNT, "owner_user_id": "u-2"},
})

_SAMPLES.update({  # the balance agent's outputs
    "WalletLedgerEntry": {
        "entry_id": "acct-1:bot-a:debit:usage/conv-1/1793527200000/1:1",
        "account_id": "acct-1", "bot_id": "bot-a", "at": 1_793_527_200_000, "kind": "debit",
        "amount_cents": 20, "grant_id": "", "session_id": "usage/conv-1/1793527200000/1",
        "draws": [{"source": "signup:bot-a", "cents": 15}, {"source": "", "cents": 5}],
        "reverses": "", "reversed_kind": "",
    },
    "BotNotification": {
        "notification_id": "acct-1:bot-a:notification:suspended:1793527200000",
        "account_id": "acct-1", "bot_id": "bot-a", "at": 1_793_527_200_000,
        "kind": "suspended", "detail": "",
    },
    "BotEntitlement": {
        "account_id": "acct-1", "bot_id": "bot-a", "allowed": False, "status": "suspended",
        "reason": "the wallet is empty (balance <= 0): add funds", "since": 1_793_527_200_000,
    },
})

_registry_numbers = itertools.count()


@pytest.fixture
def sample() -> Callable[..., dict[str, Any]]:
    """``sample("ConversationTurn", speaker="BOT")``: a valid record with overrides."""

    def make(schema_name: str, **overrides: Any) -> dict[str, Any]:
        return {**_SAMPLES[schema_name], **overrides}

    return make


@pytest.fixture
def registry_url() -> str:
    """A fresh in-process mock registry per test."""
    return f"mock://botbill-test-{next(_registry_numbers)}"
