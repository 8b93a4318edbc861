"""Throughput of the balance agent next to the sessionizer's, in one ``botbill worker`` run
on the real stack (not part of the suite).

    python tests/benchmarks/bench_balance.py [--bots N] [--visits V] [--alerts A]
                                             [--balance-batch B] [--keep]

Builds an isolated pipeline (``tests/e2e/pipeline.py``: unique topic prefix, database, app
id, metrics port), pre-loads two money workloads (each N standard bots with V one-session
conversations and A alerts over 30 days, plus their registrations): one as raw events for
the sessionizer (``botbill produce --from``), one straight onto the balance agent's inputs
(session changes, alert sessions, account events, as the agents would write them), so that
neither agent waits for the other. Then it starts the worker and scrapes ``/metrics`` every
0.2 s (both agents share the CPU, as in production):

- sessionizer + alert agent: input messages consumed / seconds from the first to the last;
- balance agent: its input messages (the pre-loaded ones and the sessionizer's output) /
  seconds from its first to the moment it has consumed them all;
- the ratio of the two (the machine is shared: compare ratios within one run), the
  recompute-time quantiles (``botbill_balance_recompute_seconds``) and how many bots were
  recomputed per message (batching: one recompute per touched bot per batch).

``--balance-batch 1`` makes every message its own batch (a recompute per message), to
measure what batching buys.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from botbill.billing_rules.timeutil import parse_rfc3339_ms  # noqa: E402
from tests.e2e.pipeline import Pipeline, write_events  # noqa: E402

MIN = 60_000
DAY = 1_440 * MIN
START = parse_rfc3339_ms("2026-05-01T00:00:00.000Z")


def workload(bots: int, visits: int, alerts: int, tag: str,
             seed: int = 1) -> list[dict[str, Any]]:
    """Registrations, one-session conversations (a USER turn, a BOT turn 2 min later) and
    alerts of ``bots`` standard bots named ``{tag}-bot-NNNN``."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for b in range(bots):
        account, bot = f"acct-{b % 10}", f"{tag}-bot-{b:04d}"
        events.append({"type": "bot_registered", "event_id": f"reg-{b}", "account_id": account,
                       "bot_id": bot, "occurred_at": START, "plan_id": "standard",
                       "owner_user_id": "o"})
        for v in range(visits):
            at = START + MIN + rng.randrange(30 * DAY)
            common = {"account_id": account, "bot_id": bot, "conversation_id": f"c-{b}-{v}",
                      "user_id": "u", "channel": "web"}
            events.append({"type": "conversation_turn", "event_id": f"t-{b}-{v}-1",
                           "occurred_at": at, "speaker": "USER", **common})
            events.append({"type": "conversation_turn", "event_id": f"t-{b}-{v}-2",
                           "occurred_at": at + 2 * MIN, "speaker": "BOT", **common})
        for a in range(alerts):
            events.append({"type": "alert_delivered", "event_id": f"al-{b}-{a}",
                           "account_id": account, "bot_id": bot, "alert_id": f"a-{b}-{a}",
                           "user_id": "u", "channel": "sms",
                           "occurred_at": START + MIN + rng.randrange(30 * DAY)})
    events.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
    return events


def preload_balance_inputs(pipeline: Pipeline, events: list[dict[str, Any]]) -> int:
    """Put ``events`` straight onto the balance agent's inputs, as the sessionizer and the
    alert agent would have: one usage session per conversation, one alert session per alert,
    account events as they are. Returns the number of messages."""
    from botbill.schemas import ACCOUNT_EVENT_SCHEMAS
    from botbill.streams.produce import EventProducer

    producer = EventProducer(pipeline.bootstrap)
    codec = producer.codec
    sent = 0
    for e in events:
        if e["type"] == "conversation_turn" and e["speaker"] == "BOT":
            continue
        if e["type"] == "conversation_turn":
            at = e["occurred_at"]
            record = {"account_id": e["account_id"], "bot_id": e["bot_id"],
                      "conversation_id": e["conversation_id"], "channel": e["channel"],
                      "user_id": e["user_id"], "conversation_session_start": at,
                      "conversation_session_end": at + 2 * MIN, "session_index": 1,
                      "billing_session_start": at, "billing_session_end": at + 2 * MIN,
                      "revision": 2, "voided": False}
            topic, value = "usage-sessions", codec.encode("UsageSessionChange", record)
        elif e["type"] == "alert_delivered":
            record = {"account_id": e["account_id"], "bot_id": e["bot_id"],
                      "event_id": e["event_id"], "delivered_at": e["occurred_at"]}
            topic, value = "alert-sessions", codec.encode("AlertSession", record)
        else:
            body = {k: v for k, v in e.items() if k != "type"}
            topic, value = "account-events", codec.encode(ACCOUNT_EVENT_SCHEMAS[e["type"]],
                                                          body)
        producer.send_raw(pipeline.topic(topic), e["bot_id"].encode(), value)
        sent += 1
    producer.flush()
    return sent


def _rate(count: float, first: float | None, last: float | None) -> float:
    if first is None or last is None or last <= first:
        return float("nan")
    return count / (last - first)


def run(args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-balance-"))
    env = {"BOTBILL_BALANCE_BATCH": str(args.balance_batch), "BOTBILL_IDLE_INPUT": "2s"}
    host, _, port = args.clickhouse.partition(":")
    pipeline = Pipeline(home, kafka_bootstrap=args.bootstrap, clickhouse_host=host,
                        clickhouse_port=int(port or 9000), env=env)
    events = workload(args.bots, args.visits, args.alerts, "s")
    inputs = sum(e["type"] != "bot_registered" for e in events)
    try:
        pipeline.home.mkdir(parents=True, exist_ok=True)
        pipeline.botbill("topics", "create")
        pipeline.botbill("db", "migrate")
        path = write_events(home / "events.jsonl", events)
        print(f"pre-loading {len(events)} events for the sessionizer and as many for the "
              f"balance agent ({args.bots} bots each)...", flush=True)
        pipeline.produce_file(path)
        preload_balance_inputs(pipeline, workload(args.bots, args.visits, args.alerts, "d",
                                                  seed=2))
        pipeline.start_worker()
        first = {"sessionizer": None, "balance": None}
        last: dict[str, float | None] = {"sessionizer": None, "balance": None}
        balance_target: float | None = None
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            pipeline.assert_alive()
            now = time.monotonic()
            metrics = pipeline.metrics()
            consumed = metrics.get("botbill_events_consumed_total", 0.0)
            balance = metrics.get("botbill_balance_messages_total", 0.0)
            for name, value in (("sessionizer", consumed), ("balance", balance)):
                if value and first[name] is None:
                    first[name] = now
            if consumed >= inputs and last["sessionizer"] is None:
                last["sessionizer"] = now
            if last["sessionizer"] is not None and balance_target is None:
                time.sleep(1.0)  # the last session changes land on their topics
                balance_target = sum(
                    _high_watermark(pipeline, topic) for topic in (
                        "usage-sessions", "alert-sessions", "account-events"))
            if balance_target is not None and balance >= balance_target:
                last["balance"] = now
                break
            time.sleep(0.2)
        metrics = pipeline.metrics()
        sess_rate = _rate(inputs, first["sessionizer"], last["sessionizer"])
        bal_count = metrics.get("botbill_balance_messages_total", 0.0)
        bal_rate = _rate(bal_count, first["balance"], last["balance"])
        recomputes = pipeline.metric("botbill_balance_outputs_total", kind="balance")
        print(json.dumps({
            "bots": args.bots, "input_events": inputs,
            "balance_messages": bal_count, "balance_batch": args.balance_batch,
            "sessionizer_events_per_s": round(sess_rate, 1),
            "balance_agent_events_per_s": round(bal_rate, 1),
            "balance_to_sessionizer_ratio": round(bal_rate / sess_rate, 3),
            "recomputes_per_message": round(recomputes / bal_count, 3) if bal_count else None,
            "recompute_seconds_mean": round(
                metrics.get("botbill_balance_recompute_seconds_sum", 0.0)
                / max(1.0, metrics.get("botbill_balance_recompute_seconds_count", 0.0)), 5),
            "finished": last["balance"] is not None,
        }, indent=2))
    finally:
        if args.keep:
            pipeline.stop_worker()
            print(f"kept: prefix {pipeline.prefix}, database {pipeline.database}")
        else:
            pipeline.stop()


def _high_watermark(pipeline: Pipeline, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    name = pipeline.topic(topic)
    consumer = Consumer({"bootstrap.servers": pipeline.bootstrap, "group.id": "bench-hw"})
    try:
        parts = consumer.list_topics(name, timeout=10).topics[name].partitions
        return sum(consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1]
                   for p in parts)
    finally:
        consumer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bots", type=int, default=100)
    parser.add_argument("--visits", type=int, default=60, help="per bot")
    parser.add_argument("--alerts", type=int, default=40, help="per bot")
    parser.add_argument("--balance-batch", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka")
    parser.add_argument("--clickhouse", default="127.0.0.1:9000", help="native host:port")
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
