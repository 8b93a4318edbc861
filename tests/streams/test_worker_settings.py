"""``streams.settings.WorkerSettings.from_env``: the documented defaults, parsing, and errors
an operator can act on."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from botbill.billing_rules.exceptions import BotbillError
from botbill.streams.settings import WorkerSettings

MINUTE = 60_000
HOUR = 60 * MINUTE

FromEnv = Callable[..., WorkerSettings]


@pytest.fixture
def from_env() -> FromEnv:
    """``from_env(VAR=value, ...)`` over exactly those variables."""
    return lambda **env: WorkerSettings.from_env(env)


def test_defaults_are_the_documented_local_stack(from_env: FromEnv) -> None:
    s = from_env()
    assert (s.bootstrap, s.clickhouse_url, s.registry_url, s.app_id, s.store) == (
        "127.0.0.1:9092", "clickhouse://default@127.0.0.1:9000/botbill", None, "botbill",
        "memory://")
    assert s.policy.timeout_ms("any-bot") == 15 * MINUTE
    assert (s.grace_ms, s.idle_seconds, s.max_skew_ms) == (5 * MINUTE, 30.0, 5 * MINUTE)
    assert s.alert_dedup_retention_ms == 7 * 24 * HOUR
    assert (s.sink_batch, s.sink_within, s.stall_seconds) == (5000, 1.0, 60.0)
    assert (s.metrics_port, s.partitions, s.datadir) == (9108, 4, ".botbill/worker")


def test_every_variable_is_read(from_env: FromEnv) -> None:
    s = from_env(BOTBILL_KAFKA_BOOTSTRAP="k1:9093,k2:9093",
                 BOTBILL_CLICKHOUSE_URL="clickhouse://u@ch:9000/prod",
                 BOTBILL_SCHEMA_REGISTRY_URL="http://registry:8081", BOTBILL_APP_ID="bb-2",
                 BOTBILL_STORE="rocksdb://", BOTBILL_TIMEOUT="20m", BOTBILL_GRACE="90s",
                 BOTBILL_IDLE_INPUT="1500ms", BOTBILL_MAX_CLOCK_SKEW="2m",
                 BOTBILL_ALERT_DEDUP_RETENTION="3d", BOTBILL_SINK_BATCH="250",
                 BOTBILL_SINK_WITHIN="250ms", BOTBILL_STALL="2m", BOTBILL_METRICS_PORT="9200",
                 BOTBILL_PARTITIONS="12", BOTBILL_HOME="/var/lib/botbill")
    assert (s.bootstrap, s.clickhouse_url, s.registry_url, s.app_id, s.store) == (
        "k1:9093,k2:9093", "clickhouse://u@ch:9000/prod", "http://registry:8081", "bb-2",
        "rocksdb://")
    assert s.policy.timeout_ms("any-bot") == 20 * MINUTE
    assert (s.grace_ms, s.idle_seconds, s.max_skew_ms) == (90_000, 1.5, 2 * MINUTE)
    assert s.alert_dedup_retention_ms == 3 * 24 * HOUR
    assert (s.sink_batch, s.sink_within, s.stall_seconds) == (250, 0.25, 120.0)
    assert (s.metrics_port, s.partitions, s.datadir) == (9200, 12, "/var/lib/botbill/worker")


def test_the_process_environment_is_the_default_source(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTBILL_APP_ID", "from-os-env")
    monkeypatch.setenv("BOTBILL_GRACE", "7m")
    s = WorkerSettings.from_env()
    assert (s.app_id, s.grace_ms) == ("from-os-env", 7 * MINUTE)


def test_an_empty_registry_url_means_none(from_env: FromEnv) -> None:
    assert from_env(BOTBILL_SCHEMA_REGISTRY_URL="").registry_url is None


def test_per_bot_timeouts(from_env: FromEnv) -> None:
    s = from_env(BOTBILL_TIMEOUT="10m", BOTBILL_BOT_TIMEOUTS=" bot-a=30m, bot-b = 2h ,,")
    assert s.policy.timeout_ms("bot-a") == 30 * MINUTE
    assert s.policy.timeout_ms("bot-b") == 2 * HOUR
    assert s.policy.timeout_ms("bot-c") == 10 * MINUTE
    assert from_env(BOTBILL_BOT_TIMEOUTS="").policy.per_bot == {}


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("BOTBILL_BOT_TIMEOUTS", "bot-a", "bot=duration"),
    ("BOTBILL_BOT_TIMEOUTS", "bot-a=30", "bot 'bot-a'"),  # 30 ms: outside 5 min .. 14 d
    ("BOTBILL_BOT_TIMEOUTS", "bot-a=15 minutes", "duration"),
    ("BOTBILL_TIMEOUT", "1m", "5 min and 14 days"),
    ("BOTBILL_TIMEOUT", "15d", "5 min and 14 days"),
    ("BOTBILL_TIMEOUT", "fifteen", "duration"),
    ("BOTBILL_GRACE", "-5m", "duration"),
    ("BOTBILL_STALL", "1.5s", "duration"),
    ("BOTBILL_SINK_BATCH", "many", "many"),
    ("BOTBILL_PARTITIONS", "four", "four"),
])
def test_a_bad_value_is_refused_with_what_is_wrong(variable: str, value: str, says: str,
                                                   from_env: FromEnv) -> None:
    with pytest.raises((ValueError, BotbillError), match=says):
        from_env(**{variable: value})


@pytest.mark.parametrize(("variable", "value"), [
    ("BOTBILL_BOT_TIMEOUTS", "bot-a"),
    ("BOTBILL_TIMEOUT", "fifteen"),
    ("BOTBILL_TIMEOUT", "1m"),
    ("BOTBILL_GRACE", "-5m"),
    ("BOTBILL_SINK_BATCH", "many"),
    ("BOTBILL_METRICS_PORT", "x"),
])
def test_a_bad_value_names_its_variable(variable: str, value: str,
                                        from_env: FromEnv) -> None:
    with pytest.raises((ValueError, BotbillError), match=variable):
        from_env(**{variable: value})


@pytest.mark.parametrize(("variable", "value"), [
    ("BOTBILL_PARTITIONS", "0"),
    ("BOTBILL_SINK_BATCH", "0"),
    ("BOTBILL_BOT_TIMEOUTS", "=30m"),
])
def test_a_value_that_cannot_work_is_refused_at_once(variable: str, value: str,
                                                     from_env: FromEnv) -> None:
    with pytest.raises((ValueError, BotbillError)):
        from_env(**{variable: value})


def test_the_app_id_follows_the_topic_namespace(from_env: FromEnv) -> None:
    # two pipelines on one cluster must not share a consumer group or changelog topics
    staging = from_env(BOTBILL_TOPIC_PREFIX="staging-")
    production = from_env(BOTBILL_TOPIC_PREFIX="prod-")
    assert staging.app_id == "staging-botbill"
    assert production.app_id == "prod-botbill"


def test_an_explicit_app_id_wins_over_the_namespace(from_env: FromEnv) -> None:
    assert from_env(BOTBILL_TOPIC_PREFIX="staging-", BOTBILL_APP_ID="legacy").app_id == "legacy"
    assert from_env(BOTBILL_TOPIC_PREFIX="staging-", BOTBILL_APP_ID="").app_id == (
        "staging-botbill")
