"""The admin API on the real pipeline: per module, an isolated :class:`Pipeline` (its own
topic prefix, ClickHouse database and ``botbill worker``, whose money jobs tick every second
as of a fixed date), the API served by uvicorn on a free loopback port with the clock at that
date, appending to the pipeline's ``account-events`` topic.

The seeded world is only facts: ``world.jsonl`` (account events) sent with ``botbill produce
--from``, and users added with ``add_user`` (what ``botbill users add`` runs). Balances,
orders and invoices are what the worker computes from them; a page's write goes API ->
Kafka -> worker (archive + jobs) -> ClickHouse -> page, so tests poll for its effect."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from confluent_kafka import Consumer

from botbill.api import KafkaEventLog, create_app
from botbill.api.users import add_user
from botbill.billing_rules.timeutil import format_ms, parse_rfc3339_ms
from botbill.deploy.stack import Endpoints
from botbill.schemas import AvroCodec
from botbill.sinks import connect
from botbill.sinks.money import read_balances, read_invoices, read_orders
from tests.e2e.pipeline import Pipeline

NOW = parse_rfc3339_ms("2026-03-10T12:00:00.000Z")
DAY = 86_400_000
WORLD_EVENTS = Path(__file__).with_name("world.jsonl")
ACCOUNTS = {"a": "acct-a", "b": "acct-b", "e": "acct-e"}
# What the worker must have computed from world.jsonl before the tests start.
SEEDED_BOTS = {"bot-1", "bot-2", "bot-3", "bot-b1", "bot-b2", "bot-e1"}
SEEDED_INVOICES = {"INV-acct-a-2026-02", "INV-acct-a-2026-03", "RCT-ord-paid-1",
                   "INV-acct-b-2026-02", "INV-acct-b-2026-03"}
EFFECT_TIMEOUT_S = 60.0

# Expected figures, by hand from MONEY_RULES and world.jsonl (never read from the tables):
# bot-1 (standard): sign-up credit 50 000 + promo 2 500 (expired 2026-03-01, unspent) + the
# paid order 10 000; no session, so nothing debited.
BOT_1_BALANCE = 50_000 + 2_500 + 10_000 - 2_500
# A's February invoice (M3): bot-2 on essential (9 900 a month) from 2026-02-10T12:00 to the
# month's end, 18.5 of February's 28 days = 6 541.07, rounded half to even; no session, so
# both overage lines have quantity 0 at essential's prices (12 and 1).
FEB_FEE_A = round(Fraction(9_900 * 37, 2 * 28))
FINAL_INVOICE = {
    "invoice_id": "INV-acct-a-2026-02", "account_id": "acct-a", "period": "2026-02",
    "status": "final",
    "lines": [{"bot_id": "bot-2", "kind": "subscription", "quantity": 1,
               "unit_price_cents": FEB_FEE_A, "amount_cents": FEB_FEE_A},
              {"bot_id": "bot-2", "kind": "usage_overage", "quantity": 0,
               "unit_price_cents": 12, "amount_cents": 0},
              {"bot_id": "bot-2", "kind": "alert_overage", "quantity": 0,
               "unit_price_cents": 1, "amount_cents": 0}],
    "total_cents": FEB_FEE_A}
FINAL_TOTAL_TEXT = "65.41"  # FEB_FEE_A in dollars, written out
T = TypeVar("T")


@dataclass
class World:
    """Who exists in the seeded database: tokens by name, account ids, the API's URL, and
    the pipeline behind it."""

    url: str
    clickhouse_url: str
    topic: str
    bootstrap: str
    accounts: dict[str, str]
    pipeline: Pipeline
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def wait_until(self, check: Callable[[], T | None], what: str,
                   timeout: float = EFFECT_TIMEOUT_S) -> T:
        """Poll ``check`` (every 0.5 s, at most ``timeout`` s) until it returns something
        truthy; a timeout or a dead worker fails with the worker's log."""
        return self.pipeline.wait_until(check, timeout, what, every=0.5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seeded(client: Any) -> bool:
    """The worker has computed the world: every bot, both orders, every invoice."""
    return ({b.bot_id for b in read_balances(client)} >= SEEDED_BOTS
            and len(read_orders(client)) >= 2
            and {i.invoice_id for i in read_invoices(client)} >= SEEDED_INVOICES)


@pytest.fixture(scope="module")
def world(stack: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    pipeline = Pipeline(tmp_path_factory.mktemp("botbill-home"),
                        kafka_bootstrap=stack.kafka_bootstrap,
                        clickhouse_host=stack.clickhouse_host,
                        clickhouse_port=stack.clickhouse_port,
                        env={"BOTBILL_JOBS_INTERVAL": "1", "BOTBILL_JOBS_AS_OF": format_ms(NOW)})
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    events: KafkaEventLog | None = None
    client = None
    try:
        pipeline.start()
        client = connect(pipeline.url)
        a, b, e = ACCOUNTS["a"], ACCOUNTS["b"], ACCOUNTS["e"]
        tokens = {
            "ann": add_user(client, a, "ann", "admin", now_ms=NOW),
            "max": add_user(client, a, "max", "member", now_ms=NOW),
            "sam": add_user(client, a, "sam", "shared", now_ms=NOW),
            "bob": add_user(client, b, "bob", "admin", now_ms=NOW),
            "eve": add_user(client, e, "eve", "admin", now_ms=NOW),
            "ops": add_user(client, "operators", "olga", "operator",
                            now_ms=NOW),
        }
        pipeline.produce_file(WORLD_EVENTS)
        pipeline.wait_until(lambda: _seeded(client), 120,
                            "the worker to compute the seeded world")
        topic = pipeline.topic("account-events")
        events = KafkaEventLog(stack.kafka_bootstrap, topic=topic)
        app = create_app(clickhouse_url=pipeline.url, events=events, clock=lambda: NOW)
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.05)
        yield World(f"http://127.0.0.1:{port}", pipeline.url, topic, stack.kafka_bootstrap,
                    dict(ACCOUNTS), pipeline, tokens)
    finally:
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=10)
        if events is not None:
            events.close()
        if client is not None:
            client.disconnect()
        pipeline.stop()


Message = tuple[bytes, str, dict[str, Any]]


def read_account_events(world: World, *, expect: int = 0,
                        until: Callable[[list[Message]], bool] | None = None,
                        timeout_s: float = 20.0) -> list[Message]:
    """Every message on the module's account-events topic so far, ``(key, schema name,
    record)`` decoded with the project's codec: at least ``expect`` of them, and read until
    ``until(messages)`` holds (or the topic is drained after that)."""
    consumer = Consumer({"bootstrap.servers": world.bootstrap,
                         "group.id": f"test-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([world.topic])
    codec = AvroCodec()
    out: list[tuple[bytes, str, dict[str, Any]]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                if len(out) >= expect and (until is None or until(out)):
                    break
                continue
            if message.error():
                continue
            name, record = codec.decode(message.value())
            out.append((message.key(), name, record))
    finally:
        consumer.close()
    return out
