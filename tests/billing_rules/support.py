"""Helpers shared by the billing_rules tests: fixtures on disk, row sets, a ClickHouse-like
ReplacingMergeTree over the stream's session changes."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from hypothesis import settings

from botbill.billing_rules.events import ConversationEvent, Event, event_from_mapping
from botbill.billing_rules.sessions import AlertSession, SessionChange, UsageSession, to_row

__all__ = [
    "EXAMPLES",
    "ReplacingTable",
    "by_conversation",
    "example_events",
    "examples",
    "expected_rows",
    "row_set",
    "rows_of",
]

from tests.examples_dir import EXAMPLES


def example_events() -> list[Event]:
    """``examples/events.jsonl``, in file order."""
    lines = (EXAMPLES / "events.jsonl").read_bytes().splitlines()
    return [event_from_mapping(orjson.loads(line)) for line in lines if line.strip()]


def expected_rows() -> list[dict[str, Any]]:
    lines = (EXAMPLES / "expected.jsonl").read_bytes().splitlines()
    return [orjson.loads(line) for line in lines if line.strip()]


def rows_of(sessions: Iterable[UsageSession | AlertSession]) -> list[dict[str, Any]]:
    return [to_row(session) for session in sessions]


def row_set(rows: Iterable[Mapping[str, Any]]) -> Counter[bytes]:
    """Rows as a multiset, comparable whatever their order."""
    return Counter(orjson.dumps(dict(row), option=orjson.OPT_SORT_KEYS) for row in rows)


def by_conversation(events: Iterable[Event]) -> dict[tuple[str, str, str], list[ConversationEvent]]:
    """Turns and handoffs grouped by ``(account, bot, conversation)``, delivery order kept."""
    groups: dict[tuple[str, str, str], list[ConversationEvent]] = {}
    for event in events:
        if event.type != "alert_delivered":
            key = (event.account_id, event.bot_id, event.conversation_id)  # type: ignore[union-attr]
            groups.setdefault(key, []).append(event)  # type: ignore[arg-type]
    return groups


class ReplacingTable:
    """ReplacingMergeTree(revision) keyed by session identity, read with FINAL: the highest
    revision per identity wins (the later insert on a tie); voided rows are not billed."""

    def __init__(self) -> None:
        self.rows: dict[tuple[Any, ...], SessionChange] = {}

    def insert(self, changes: Iterable[SessionChange]) -> None:
        for change in changes:
            current = self.rows.get(change.session.identity)
            if current is None or change.revision >= current.revision:
                self.rows[change.session.identity] = change

    def billed(self) -> list[UsageSession]:
        return [change.session for change in self.rows.values() if not change.voided]


def examples(count: int) -> settings:
    """Hypothesis settings for a property: ``count`` examples, times ``BOTBILL_EXAMPLES_SCALE``
    (e.g. 20 for a deep run), no deadline."""
    scale = float(os.environ.get("BOTBILL_EXAMPLES_SCALE", "1"))
    return settings(max_examples=max(1, round(count * scale)), deadline=None)
