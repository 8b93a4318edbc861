"""Worker settings, from the environment (12-factor), with defaults for the local stack.

| variable | default | meaning |
|---|---|---|
| BOTBILL_KAFKA_BOOTSTRAP | 127.0.0.1:9092 | Kafka bootstrap servers |
| BOTBILL_CLICKHOUSE_URL | clickhouse://default@127.0.0.1:9000/botbill | ClickHouse |
| BOTBILL_SCHEMA_REGISTRY_URL | (none) | Confluent wire format when set |
| BOTBILL_TOPIC_PREFIX | (none) | a pipeline's namespace: its topics and default app id |
| BOTBILL_APP_ID | PREFIX + botbill | Faust app id: consumer group and changelog topic prefix |
| BOTBILL_STORE | memory:// | table store (``rocksdb://`` in production) |
| BOTBILL_TIMEOUT | 15m | default inactivity timeout T |
| BOTBILL_BOT_TIMEOUTS | (none) | per-bot T: ``bot-a=30m,bot-b=2h`` |
| BOTBILL_GRACE | 5m | grace before a visit closes |
| BOTBILL_MAX_DISORDER | (unbounded) | replay's and reconcile's grace (``--max-disorder``) |
| BOTBILL_IDLE_INPUT | 30s | an input silent this long stops holding event time back |
| BOTBILL_MAX_CLOCK_SKEW | 5m | how far ahead of the wall clock occurred_at may move event time |
| BOTBILL_ALERT_DEDUP_RETENTION | 7d | how long (event time) alert ids are remembered |
| BOTBILL_SINK_BATCH | 5000 | max messages per ClickHouse batch |
| BOTBILL_SINK_WITHIN | 1s | max wait to fill a batch |
| BOTBILL_STALL | 60s | health goes red after this long with lag and no progress |
| BOTBILL_METRICS_PORT | 9108 | /metrics and /health, on 127.0.0.1 |
| BOTBILL_PARTITIONS | 4 | partitions of the input topics (tables match them) |
| BOTBILL_HOME | .botbill | where the worker keeps its local table data |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from botbill.billing_rules.settings import (
    DEFAULT_GRACE_MS,
    BillingSettings,
    InvalidSetting,
    TimeoutPolicy,
)
from botbill.billing_rules.timeutil import parse_duration_ms

__all__ = ["WorkerSettings", "default_app_id"]


def default_app_id(env: Mapping[str, str]) -> str:
    """The app id of the pipeline named by ``BOTBILL_TOPIC_PREFIX``: the consumer group and
    the changelog topics live in the same namespace as the topics, so two pipelines on one
    cluster never share offsets or conversation states."""
    return env.get("BOTBILL_TOPIC_PREFIX", "") + "botbill"


@dataclass(frozen=True)
class WorkerSettings:
    bootstrap: str = "127.0.0.1:9092"
    clickhouse_url: str = "clickhouse://default@127.0.0.1:9000/botbill"
    registry_url: str | None = None
    app_id: str = "botbill"
    store: str = "memory://"
    policy: TimeoutPolicy = field(default_factory=TimeoutPolicy)
    grace_ms: int = DEFAULT_GRACE_MS
    idle_seconds: float = 30.0
    max_skew_ms: int = 5 * 60_000
    alert_dedup_retention_ms: int = 7 * 24 * 3600 * 1000
    sink_batch: int = 5000
    sink_within: float = 1.0
    stall_seconds: float = 60.0
    metrics_port: int = 9108
    partitions: int = 4
    datadir: str = ".botbill/worker"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        """Read the settings; a bad value raises :class:`InvalidSetting` naming the variable."""
        env = os.environ if env is None else env
        read = _Reader(env)
        billing = BillingSettings.from_env(env)  # T, per-bot T, grace: as every command
        return cls(
            bootstrap=env.get("BOTBILL_KAFKA_BOOTSTRAP", cls.bootstrap),
            clickhouse_url=env.get("BOTBILL_CLICKHOUSE_URL", cls.clickhouse_url),
            registry_url=env.get("BOTBILL_SCHEMA_REGISTRY_URL") or None,
            app_id=env.get("BOTBILL_APP_ID") or default_app_id(env),
            store=env.get("BOTBILL_STORE", cls.store),
            policy=billing.policy,
            grace_ms=billing.grace_ms,
            idle_seconds=read.duration("BOTBILL_IDLE_INPUT", "30s") / 1000,
            max_skew_ms=read.duration("BOTBILL_MAX_CLOCK_SKEW", "5m"),
            alert_dedup_retention_ms=read.duration("BOTBILL_ALERT_DEDUP_RETENTION", "7d"),
            sink_batch=read.positive_int("BOTBILL_SINK_BATCH", cls.sink_batch),
            sink_within=read.duration("BOTBILL_SINK_WITHIN", "1s") / 1000,
            stall_seconds=read.duration("BOTBILL_STALL", "60s") / 1000,
            metrics_port=read.positive_int("BOTBILL_METRICS_PORT", cls.metrics_port),
            partitions=read.positive_int("BOTBILL_PARTITIONS", cls.partitions),
            datadir=os.path.join(env.get("BOTBILL_HOME", ".botbill"), "worker"),
        )

    @property
    def billing(self) -> BillingSettings:
        """The rules' settings this worker bills with."""
        return BillingSettings(self.policy, self.grace_ms)


class _Reader:
    """Parses one environment variable at a time, naming it in every error."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def duration(self, name: str, default: str) -> int:
        text = self.env.get(name, default)
        try:
            return parse_duration_ms(text)
        except ValueError as error:
            raise InvalidSetting(f"{name}: {error}") from None

    def positive_int(self, name: str, default: int) -> int:
        text = self.env.get(name, str(default))
        if not text.strip().isdigit() or int(text) < 1:
            raise InvalidSetting(f"{name} must be a whole number >= 1, got {text!r}")
        return int(text)
