"""Realistic generated traffic: accounts, bots, conversations with handoffs and idle gaps,
alerts, a few duplicates, test traffic and cross-topic disorder.

Deterministic for a seed; event time starts at ``start_ms`` and spans ``span_ms``. Events
come out in *send* order (roughly event time, handoffs a little behind turns), as the JSON
Lines mappings of BILLING_RULES §1 (``occurred_at`` in epoch ms).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from typing import Any

from botbill.billing_rules.timeutil import MINUTE_MS

__all__ = ["generate_events"]

_CHANNELS = ("web", "whatsapp", "messenger", "sms")


def _conversation(rng: random.Random, index: int, start: int, account: str, bot: str,
                  timeout_ms: int) -> list[dict[str, Any]]:
    conversation_id = f"c{index:07d}"
    user_id = f"u{rng.randrange(10**6):06d}"
    channel = rng.choice(_CHANNELS)
    base = {"account_id": account, "bot_id": bot, "conversation_id": conversation_id,
            "user_id": user_id, "channel": channel}
    is_test = rng.random() < 0.03
    events: list[dict[str, Any]] = []
    at = start
    handoff_open: str | None = None
    bot_only = rng.random() < 0.08
    for turn in range(rng.randint(2, 40)):
        speaker = "BOT" if bot_only or turn % 2 else "USER"
        if handoff_open is not None:
            speaker = rng.choice(("USER", "AGENT"))
        events.append({**base, "type": "conversation_turn", "speaker": speaker,
                       "occurred_at": at})
        roll = rng.random()
        if handoff_open is None and roll < 0.05:
            handoff_open = f"h{index}-{turn}"
            at += rng.randint(1, 30_000)
            events.append({**base, "type": "agent_handoff", "handoff_id": handoff_open,
                           "phase": "STARTED", "agent_id": f"agent-{rng.randint(1, 9)}",
                           "occurred_at": at})
        elif handoff_open is not None and roll < 0.25:
            at += rng.randint(1, 30_000)
            events.append({**base, "type": "agent_handoff", "handoff_id": handoff_open,
                           "phase": "ENDED", "occurred_at": at})
            handoff_open = None
        gap = rng.choice((
            rng.randint(1_000, 90_000), rng.randint(1_000, 90_000), rng.randint(60_000, 6 * 60_000),
            timeout_ms, timeout_ms + rng.choice((-1, 1)),  # idle gaps right at the limit
            timeout_ms + rng.randint(1, 20 * MINUTE_MS)))
        at += gap
    for number, event in enumerate(events):
        event["event_id"] = f"{conversation_id}-{number:03d}"
        if is_test:
            event["is_test"] = True
    return events


def generate_events(*, seed: int, start_ms: int, count: int, span_ms: int,
                    accounts: int = 3, bots_per_account: int = 3,
                    timeout_ms: int = 15 * MINUTE_MS,
                    handoff_delay_ms: int = 20_000,
                    account_prefix: str = "") -> Iterator[dict[str, Any]]:
    """About ``count`` events within ``[start, start + span)`` (conversations still going at
    the end of the window are cut there)."""
    rng = random.Random(seed)
    bots = [(f"{account_prefix}acct-{a}", f"bot-{a}-{b}") for a in range(1, accounts + 1)
            for b in range(1, bots_per_account + 1)]
    pending: list[tuple[int, int, dict[str, Any]]] = []
    produced = 0
    index = 0
    sequence = 0
    while produced < count:
        account, bot = rng.choice(bots)
        start = start_ms + rng.randrange(max(1, span_ms))
        if rng.random() < 0.15:
            alert = {"type": "alert_delivered", "account_id": account, "bot_id": bot,
                     "alert_id": rng.choice(("sales-report", "stock", "weather")),
                     "user_id": f"u{rng.randrange(10**6):06d}", "channel": "email",
                     "event_id": f"a{index:07d}", "occurred_at": start}
            if rng.random() < 0.03:
                alert["is_test"] = True
            batch = [alert]
        else:
            batch = _conversation(rng, index, start, account, bot, timeout_ms)
        index += 1
        for event in batch:
            # handoffs reach Kafka a little after the turns around them: cross-topic disorder
            delay = rng.randint(0, handoff_delay_ms) if event["type"] == "agent_handoff" else 0
            sequence += 1
            heapq.heappush(pending, (event["occurred_at"] + delay, sequence, event))
            if rng.random() < 0.02:  # a producer retry: the same event again, a bit later
                sequence += 1
                heapq.heappush(pending, (event["occurred_at"] + rng.randint(0, 60_000),
                                         sequence, dict(event)))
        produced += sum(e["occurred_at"] < start_ms + span_ms for e in batch)
    end = start_ms + span_ms
    while pending:
        event = heapq.heappop(pending)[2]
        if event["occurred_at"] < end:  # traffic stops at the end of the window
            yield event
