"""The local stack: idempotent ``up``, truthful ``status``, and services that really work."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from clickhouse_driver import Client
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from botbill.deploy import stack as stack_cli
from botbill.deploy._config import StackConfig
from botbill.deploy.exceptions import PortInUse, StackError
from botbill.deploy.stack import Endpoints, down, status, up


@pytest.mark.integration
def test_second_up_is_fast_and_returns_the_same_endpoints(stack: Endpoints) -> None:
    started = time.monotonic()
    again = up()
    assert time.monotonic() - started < 5
    assert again == stack


@pytest.mark.integration
def test_status_reports_both_services_up(stack: Endpoints, capsys: pytest.CaptureFixture[str]):
    rows = {row.name: row for row in status()}
    assert set(rows) == {"kafka", "clickhouse"}
    assert all(row.up and row.pid for row in rows.values()), rows
    assert stack_cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert stack.kafka_bootstrap in out
    assert f"127.0.0.1:{stack.clickhouse_port}" in out


@pytest.mark.integration
def test_kafka_round_trip_on_a_temporary_topic(stack: Endpoints) -> None:
    topic = f"test-stack-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    consumer = Consumer(
        {
            "bootstrap.servers": stack.kafka_bootstrap,
            "group.id": topic,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        producer = Producer({"bootstrap.servers": stack.kafka_bootstrap, "acks": "all"})
        payload = uuid.uuid4().bytes
        producer.produce(topic, key=b"conversation-1", value=payload)
        assert producer.flush(30) == 0
        consumer.subscribe([topic])
        deadline = time.monotonic() + 30
        message = None
        while message is None and time.monotonic() < deadline:
            message = consumer.poll(1.0)
        assert message is not None, "no message consumed within 30 s"
        assert message.error() is None
        assert (message.key(), message.value()) == (b"conversation-1", payload)
    finally:
        consumer.close()
        admin.delete_topics([topic])[topic].result(timeout=30)
        admin.delete_consumer_groups([topic])[topic].result(timeout=30)


@pytest.mark.integration
def test_clickhouse_answers_a_query(stack: Endpoints) -> None:
    client = Client.from_url(stack.clickhouse_url)
    try:
        assert client.execute("SELECT 1 + 1") == [(2,)]
        assert client.execute("SELECT timezone()")[0][0] in ("UTC", "Etc/UTC")
    finally:
        client.disconnect()


@pytest.mark.integration
def test_a_second_home_sees_the_ports_taken_and_starts_nothing(
    stack: Endpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTBILL_HOME", str(tmp_path))
    assert down() == []  # nothing runs from this home: a no-op that succeeds
    rows = status()
    assert not any(row.up for row in rows)
    assert all("taken by another process" in row.detail for row in rows)
    assert stack_cli.main(["status"]) == stack_cli.EXIT_DOWN
    with pytest.raises(PortInUse, match="already in use"):
        up(timeout_s=5)


def test_config_reads_ports_and_home_from_env(tmp_path: Path) -> None:
    cfg = StackConfig.from_env({"BOTBILL_HOME": str(tmp_path), "BOTBILL_KAFKA_PORT": "19092"})
    assert cfg.home == tmp_path.resolve()
    assert cfg.kafka_bootstrap == "127.0.0.1:19092"
    assert (cfg.kafka_controller_port, cfg.clickhouse_port, cfg.clickhouse_http_port) == (
        9093,
        9000,
        8123,
    )


@pytest.mark.parametrize(
    "env",
    [
        {"BOTBILL_KAFKA_PORT": "kafka"},
        {"BOTBILL_CLICKHOUSE_PORT": "70000"},
        {"BOTBILL_CLICKHOUSE_HTTP_PORT": "9092"},
        {"BOTBILL_STACK_TIMEOUT": "soon"},
    ],
)
def test_config_rejects_bad_values(env: dict[str, str]) -> None:
    with pytest.raises(StackError):
        StackConfig.from_env(env)
