"""Realistic generated traffic: accounts, bots, conversations with handoffs and idle gaps,
alerts, a few duplicates, test traffic and cross-topic disorder; with ``account_events``, also
the money side (MONEY_RULES §1): every bot registered at the window's start on a mix of plans,
an order placed then settled paid, a credit grant and a plan upgrade.

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

__all__ = ["PLANS", "generate_account_events", "generate_events"]

_CHANNELS = ("web", "whatsapp", "messenger", "sms")
PLANS = ("standard", "essential", "advanced", "trial")  # the bots' plans, in turn
DAY_MS = 24 * 60 * MINUTE_MS


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


def generate_account_events(*, seed: int, start_ms: int, span_ms: int,
                            bots: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The bots' account events in time order: each registered at ``start_ms`` on the next
    of :data:`PLANS`; on the first bot an order placed then settled paid, on the second a
    credit grant, on the last a plan upgrade (to a plan of higher rank, so it takes effect at
    once, MONEY_RULES M1). Their own random stream: the usage traffic of a seed is unchanged."""
    rng = random.Random(f"{seed}/accounts")

    def at(low: float, high: float) -> int:
        return start_ms + int(span_ms * rng.uniform(low, high))

    def event(kind: str, name: str, when: int, account: str, bot: str,
              **fields: Any) -> dict[str, Any]:
        return {"type": kind, "event_id": f"{name}/{account}/{bot}", "occurred_at": when,
                "account_id": account, "bot_id": bot, **fields}

    records = [event("bot_registered", "registered", start_ms, account, bot,
                     plan_id=PLANS[i % len(PLANS)], owner_user_id=f"owner-{account}")
               for i, (account, bot) in enumerate(bots)]
    if not bots:
        return records
    account, bot = bots[0]
    placed = at(0.1, 0.3)
    records += [event("order_placed", "order-1-placed", placed, account, bot,
                      order_id=f"order-1/{account}/{bot}",
                      amount_cents=rng.choice((10_000, 25_000)), payment_method="card"),
                event("order_settled", "order-1-settled", placed + at(0.05, 0.2) - start_ms,
                      account, bot, order_id=f"order-1/{account}/{bot}", status="paid")]
    account, bot = bots[min(1, len(bots) - 1)]
    granted = at(0.2, 0.5)
    records.append(event("credits_granted", "grant-1", granted, account, bot,
                         grant_id=f"grant-1/{account}/{bot}",
                         amount_cents=rng.randrange(1, 51) * 100,
                         expires_at=granted + 30 * DAY_MS))
    account, bot = bots[-1]
    current = PLANS[(len(bots) - 1) % len(PLANS)]
    higher = {"trial": "standard", "standard": "essential", "essential": "advanced"}
    if current in higher:
        records.append(event("plan_change_requested", "plan-1", at(0.4, 0.7), account, bot,
                             plan_id=higher[current]))
    return sorted(records, key=lambda r: r["occurred_at"])


def generate_events(*, seed: int, start_ms: int, count: int, span_ms: int,
                    accounts: int = 3, bots_per_account: int = 3,
                    timeout_ms: int = 15 * MINUTE_MS,
                    handoff_delay_ms: int = 20_000,
                    account_prefix: str = "",
                    account_events: bool = False) -> Iterator[dict[str, Any]]:
    """About ``count`` events within ``[start, start + span)`` (conversations still going at
    the end of the window are cut there); with ``account_events``, the bots' account events
    (:func:`generate_account_events`) too, each sent at its event time."""
    rng = random.Random(seed)
    bots = [(f"{account_prefix}acct-{a}", f"bot-{a}-{b}") for a in range(1, accounts + 1)
            for b in range(1, bots_per_account + 1)]
    pending: list[tuple[int, int, dict[str, Any]]] = []
    produced = 0
    index = 0
    sequence = 0
    if account_events:  # sequence numbers below the usage events': first at a tie
        for number, record in enumerate(generate_account_events(
                seed=seed, start_ms=start_ms, span_ms=span_ms, bots=bots)):
            heapq.heappush(pending, (record["occurred_at"], number - 10**6, record))
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
