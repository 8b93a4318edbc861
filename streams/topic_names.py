"""The Kafka topics, in one place: names for the worker and producers, specs for creation.

Every topic has the same partition count (``BOTBILL_PARTITIONS``): the two conversation
inputs *must* (they are co-partitioned by ``conversation_id``, so one worker holds a
conversation's state and its handoffs), and one count for all keeps the Faust tables and the
sink agent simple. Creation settings (partitions, replication, retention) live in
``streams.topics``; here is only what each topic is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ACCOUNT_EVENTS",
    "AGENT_HANDOFFS",
    "ALERTS_DELIVERED",
    "ALERT_SESSIONS",
    "BALANCE_INPUTS",
    "BOT_ENTITLEMENTS",
    "CONVERSATION_TOPICS",
    "CONVERSATION_TURNS",
    "DEAD_LETTERS",
    "INPUT_TOPICS",
    "LATE_EVENTS",
    "NOTIFICATIONS",
    "OUTPUT_TOPICS",
    "PREFIX",
    "SINK_TOPICS",
    "TOPIC_SPECS",
    "USAGE_SESSIONS",
    "WALLET_LEDGER",
    "TopicKind",
    "TopicSpec",
]

#: ``BOTBILL_TOPIC_PREFIX`` (read once, at import) namespaces every topic: several
#: pipelines (tests, staging) can share one cluster.
PREFIX = os.environ.get("BOTBILL_TOPIC_PREFIX", "")
CONVERSATION_TURNS = PREFIX + "conversation-turns"
AGENT_HANDOFFS = PREFIX + "agent-handoffs"
ALERTS_DELIVERED = PREFIX + "alerts-delivered"
USAGE_SESSIONS = PREFIX + "usage-sessions"
ALERT_SESSIONS = PREFIX + "alert-sessions"
LATE_EVENTS = PREFIX + "late-events"
DEAD_LETTERS = PREFIX + "dead-letters"
ACCOUNT_EVENTS = PREFIX + "account-events"
WALLET_LEDGER = PREFIX + "wallet-ledger"
NOTIFICATIONS = PREFIX + "notifications"
BOT_ENTITLEMENTS = PREFIX + "bot-entitlements"

TopicKind = Literal["input", "output", "audit", "account", "money", "entitlement"]
"""``account``: the money's source of truth (MONEY_RULES §1), kept forever; the balance
agent reads it, and the sink archives it in ClickHouse (``account_events``) for the jobs.
``money``: the balance agent's outputs (it writes their ClickHouse rows itself).
``entitlement``: compacted, the latest value per key is the state."""


@dataclass(frozen=True)
class TopicSpec:
    """What a topic carries and how it is keyed; ``kind`` selects its retention."""

    name: str
    key: str
    kind: TopicKind
    doc: str


TOPIC_SPECS: tuple[TopicSpec, ...] = (
    TopicSpec(CONVERSATION_TURNS, "conversation_id", "input", "turns, from the bot platform"),
    TopicSpec(AGENT_HANDOFFS, "conversation_id", "input", "handoffs to and from human agents"),
    TopicSpec(ALERTS_DELIVERED, "bot_id", "input", "proactive alerts delivered to users"),
    TopicSpec(USAGE_SESSIONS, "bot_id", "output", "session changes (revision grows, may void)"),
    TopicSpec(ALERT_SESSIONS, "bot_id", "output", "billed alert sessions"),
    TopicSpec(LATE_EVENTS, "event_id", "audit", "events for visits already closed"),
    TopicSpec(DEAD_LETTERS, "topic/partition/offset", "audit", "records that failed decoding"),
    TopicSpec(ACCOUNT_EVENTS, "bot_id", "account", "admin actions and payment outcomes"),
    TopicSpec(WALLET_LEDGER, "bot_id", "money", "wallet movements (append-only, reversals)"),
    TopicSpec(NOTIFICATIONS, "bot_id", "money", "plan-status notifications, once each"),
    TopicSpec(BOT_ENTITLEMENTS, "bot_id", "entitlement", "may the bot serve (compacted)"),
)

#: Co-partitioned by ``conversation_id``: must always have the same partition count.
CONVERSATION_TOPICS: tuple[str, ...] = (CONVERSATION_TURNS, AGENT_HANDOFFS)
INPUT_TOPICS: tuple[str, ...] = tuple(s.name for s in TOPIC_SPECS if s.kind == "input")
OUTPUT_TOPICS: tuple[str, ...] = tuple(s.name for s in TOPIC_SPECS
                                       if s.kind in ("output", "audit"))
#: Everything the ClickHouse sink reads: raw inputs, sessions, late events, dead letters and
#: the account events (archived for the money jobs); not the balance agent's outputs.
SINK_TOPICS: tuple[str, ...] = tuple(s.name for s in TOPIC_SPECS
                                     if s.kind in ("input", "output", "audit", "account"))
#: What the balance agent reads, all keyed by ``bot_id`` (co-partitioned).
BALANCE_INPUTS: tuple[str, ...] = (USAGE_SESSIONS, ALERT_SESSIONS, ACCOUNT_EVENTS)
