"""``botbill topics``: idempotent creation, the configured layout, co-partitioned inputs."""

from __future__ import annotations

import os

import pytest

from botbill.deploy.stack import Endpoints
from botbill.streams import topics
from botbill.streams.topic_names import (
    ACCOUNT_EVENTS,
    ALERT_SESSIONS,
    BALANCE_INPUTS,
    BOT_ENTITLEMENTS,
    CONVERSATION_TOPICS,
    INPUT_TOPICS,
    NOTIFICATIONS,
    PREFIX,
    SINK_TOPICS,
    TOPIC_SPECS,
    USAGE_SESSIONS,
    WALLET_LEDGER,
)
from botbill.streams.topics import TopicError, TopicSettings, create_topics, describe_topics


def _settings(stack: Endpoints) -> TopicSettings:
    return TopicSettings.from_env({**os.environ, "BOTBILL_KAFKA_BOOTSTRAP": stack.kafka_bootstrap})


@pytest.mark.integration
def test_create_twice_is_fine(stack: Endpoints) -> None:
    settings = _settings(stack)
    create_topics(settings)
    again = create_topics(settings)
    assert again == {spec.name: "exists" for spec in TOPIC_SPECS}


@pytest.mark.integration
def test_partitions_replication_and_retention_match_config(stack: Endpoints) -> None:
    settings = _settings(stack)
    create_topics(settings)
    infos = {info.name: info for info in describe_topics(settings)}
    assert set(infos) == {spec.name for spec in TOPIC_SPECS}
    for spec in TOPIC_SPECS:
        info = infos[spec.name]
        assert (info.partitions, info.replication) == (settings.partitions, settings.replication)
        assert info.config["retention.ms"] == settings.config(spec)["retention.ms"]
        assert info.config["cleanup.policy"] == settings.config(spec)["cleanup.policy"]
    assert infos[BOT_ENTITLEMENTS].config["cleanup.policy"] == "compact"
    assert infos[WALLET_LEDGER].config["cleanup.policy"] == "delete"
    assert infos["conversation-turns"].config["retention.ms"] == str(7 * 24 * 3600 * 1000)
    assert infos["account-events"].config["retention.ms"] == "-1"  # the money's source of truth


@pytest.mark.integration
def test_conversation_inputs_are_co_partitioned(stack: Endpoints) -> None:
    settings = _settings(stack)
    create_topics(settings)
    counts = {
        i.name: i.partitions for i in describe_topics(settings) if i.name in CONVERSATION_TOPICS
    }
    assert len(counts) == 2
    assert len(set(counts.values())) == 1, counts


@pytest.mark.integration
def test_a_partition_count_change_is_refused(stack: Endpoints) -> None:
    settings = _settings(stack)
    create_topics(settings)
    other = TopicSettings(settings.bootstrap, settings.partitions + 1, settings.replication)
    with pytest.raises(TopicError, match="never add partitions"):
        create_topics(other)


@pytest.mark.integration
def test_list_command_exits_zero_when_all_exist(
    stack: Endpoints, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOTBILL_KAFKA_BOOTSTRAP", stack.kafka_bootstrap)
    assert topics.main(["create"]) == 0
    assert topics.main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SINK_TOPICS)


def test_unreachable_kafka_is_reported_with_a_hint() -> None:
    settings = TopicSettings(bootstrap="127.0.0.1:1", connect_timeout_s=1.0)
    with pytest.raises(TopicError, match="botbill stack up"):
        create_topics(settings)


def test_topic_specs_are_consistent() -> None:
    names = [spec.name for spec in TOPIC_SPECS]
    assert len(names) == len(set(names))
    assert set(CONVERSATION_TOPICS) <= set(INPUT_TOPICS)
    assert all(
        spec.key == "conversation_id" for spec in TOPIC_SPECS if spec.name in CONVERSATION_TOPICS
    )
    # the sink archives the inputs, sessions, audit topics and the account events (the money
    # jobs read them), not the balance agent's outputs (it writes their rows itself)
    assert set(SINK_TOPICS) == {spec.name for spec in TOPIC_SPECS
                                if spec.kind in ("input", "output", "audit", "account")}
    account = [spec for spec in TOPIC_SPECS if spec.kind == "account"]
    assert [(spec.name.rsplit("-", 2)[-2:], spec.key) for spec in account] == [
        (["account", "events"], "bot_id")]


def test_only_the_entitlements_are_compacted_and_kept() -> None:
    configs = {spec.name.removeprefix(PREFIX): TopicSettings().config(spec)
               for spec in TOPIC_SPECS}
    assert [name for name, c in configs.items() if c["cleanup.policy"] == "compact"] == [
        "bot-entitlements"]
    assert configs["bot-entitlements"]["retention.ms"] == "-1"
    assert configs["wallet-ledger"]["retention.ms"] == str(90 * 24 * 3600 * 1000)
    assert set(BALANCE_INPUTS) == {USAGE_SESSIONS, ALERT_SESSIONS, ACCOUNT_EVENTS}
    assert not set(SINK_TOPICS) & {WALLET_LEDGER, NOTIFICATIONS, BOT_ENTITLEMENTS}


def test_settings_come_from_env() -> None:
    settings = TopicSettings.from_env(
        {"BOTBILL_PARTITIONS": "8", "BOTBILL_REPLICATION": "3", "BOTBILL_INPUT_RETENTION_DAYS": "2"}
    )
    assert (settings.bootstrap, settings.partitions, settings.replication) == (
        "127.0.0.1:9092",
        8,
        3,
    )
    input_spec = next(spec for spec in TOPIC_SPECS if spec.kind == "input")
    assert settings.config(input_spec)["retention.ms"] == str(2 * 24 * 3600 * 1000)
    assert settings.config(input_spec)["min.insync.replicas"] == "2"
    with pytest.raises(TopicError):
        TopicSettings.from_env({"BOTBILL_PARTITIONS": "0"})
