"""The admin API on the real stack: a fresh ClickHouse database and a fresh account-events
topic per module, the API served by uvicorn on a free loopback port, a fixed clock, and a
seeded world of accounts written through ``sinks.money`` (the balance agent that will write
these tables does not exist yet)."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import uvicorn
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

from botbill.api import KafkaEventLog, create_app
from botbill.api.users import add_user
from botbill.billing_rules.timeutil import parse_rfc3339_ms
from botbill.deploy.stack import Endpoints
from botbill.schemas import AvroCodec
from botbill.sinks import connect, migrate
from botbill.sinks.money import (
    BotBalance,
    Invoice,
    InvoiceLine,
    Order,
    write_balances,
    write_invoice,
    write_orders,
)

NOW = parse_rfc3339_ms("2026-03-10T12:00:00.000Z")
DAY = 86_400_000


@dataclass
class World:
    """Who exists in the seeded database: tokens by name, account ids, the API's URL."""

    url: str
    clickhouse_url: str
    topic: str
    bootstrap: str
    accounts: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)
    final_invoice: Invoice | None = None

    def client(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database_url(stack: Endpoints, name: str) -> str:
    return urlunsplit(urlsplit(stack.clickhouse_url)._replace(path=f"/{name}"))


def seed(client: Any, accounts: dict[str, str]) -> Invoice:
    """Three accounts: A (standard + essential bots, orders, a final and a draft invoice),
    B (another tenant), E (Enterprise only). Returns A's final invoice."""
    a, b, e = accounts["a"], accounts["b"], accounts["e"]
    write_balances(client, [
        BotBalance(a, "bot-1", NOW, "standard", "active", 60_000, 15_000, 0, 45_000,
                   owner_user_id="ann", registered_at=NOW - 40 * DAY, version=1),
        BotBalance(a, "bot-2", NOW, "essential", "active", 0, 0, 0, 0,
                   owner_user_id="ann", registered_at=NOW - 70 * DAY, version=1),
        BotBalance(a, "bot-3", NOW, "trial", "trial", 0, 0, 0, 0, owner_user_id="max",
                   registered_at=NOW - 12 * DAY, trial_end=NOW + 2 * DAY, expiring=True,
                   version=1),
        BotBalance(b, "bot-b1", NOW, "standard", "low_balance", 50_000, 49_000, 0, 1_000,
                   owner_user_id="bob", version=1),
        BotBalance(e, "bot-e1", NOW, "enterprise", "active", 0, 0, 0, 0,
                   owner_user_id="eve", version=1),
    ])
    write_orders(client, [
        Order(a, "bot-1", "ord-paid-1", NOW - 20 * DAY, 10_000, "card", "paid",
              NOW - 20 * DAY + 1),
        Order(b, "bot-b1", "ord-b-1", NOW - 5 * DAY, 20_000, "wire_transfer"),
    ])
    lines = (InvoiceLine("bot-2", "subscription", 1, 9_900, 9_900),
             InvoiceLine("bot-2", "usage_overage", 37, 12, 444),
             InvoiceLine("bot-2", "alert_overage", 0, 1, 0))
    final = Invoice(f"INV-{a}-2026-02", a, "2026-02", "final", lines, 10_344)
    write_invoice(client, final, version=NOW)
    draft = Invoice(f"INV-{a}-2026-03", a, "2026-03", "draft", lines[:1], 9_900)
    write_invoice(client, draft, version=NOW)
    receipt = Invoice("RCT-ord-paid-1", a, "2026-02", "final",
                      (InvoiceLine("bot-1", "funds", 1, 10_000, 10_000),), 10_000)
    write_invoice(client, receipt, version=NOW)
    other = Invoice(f"INV-{b}-2026-02", b, "2026-02", "final",
                    (InvoiceLine("bot-b1", "subscription", 1, 49_900, 49_900),), 49_900)
    write_invoice(client, other, version=NOW)
    return final


@pytest.fixture(scope="module")
def world(stack: Endpoints) -> Iterator[World]:
    tag = uuid.uuid4().hex[:10]
    database = f"botbill_test_api_{tag}"
    ch_url = _database_url(stack, database)
    client = connect(ch_url, create_database=True)
    migrate(client)
    topic = f"test-api-{tag}-account-events"
    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=30)
    accounts = {"a": f"acct-a-{tag}", "b": f"acct-b-{tag}", "e": f"acct-e-{tag}"}
    final = seed(client, accounts)
    tokens = {
        "ann": add_user(client, accounts["a"], "ann", "admin", now_ms=NOW),
        "max": add_user(client, accounts["a"], "max", "member", now_ms=NOW),
        "sam": add_user(client, accounts["a"], "sam", "shared", now_ms=NOW),
        "bob": add_user(client, accounts["b"], "bob", "admin", now_ms=NOW),
        "eve": add_user(client, accounts["e"], "eve", "admin", now_ms=NOW),
        "ops": add_user(client, f"ops-{tag}", "olga", "operator", now_ms=NOW),
    }
    events = KafkaEventLog(stack.kafka_bootstrap, topic=topic)
    app = create_app(clickhouse_url=ch_url, events=events, clock=lambda: NOW)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield World(f"http://127.0.0.1:{port}", ch_url, topic, stack.kafka_bootstrap,
                    accounts, tokens, final)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        events.close()
        client.execute(f"DROP DATABASE IF EXISTS {database}")
        client.disconnect()
        admin.delete_topics([topic])


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
