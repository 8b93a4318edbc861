"""Worker settings, from the environment (12-factor), with defaults for the local stack.

| variable | default | meaning |
|---|---|---|
| BOTBILL_KAFKA_BOOTSTRAP | 127.0.0.1:9092 | Kafka bootstrap servers |
| BOTBILL_CLICKHOUSE_URL | clickhouse://default@127.0.0.1:9000/botbill | ClickHouse |
| BOTBILL_SCHEMA_REGISTRY_URL | (none) | Confluent wire format when set |
| BOTBILL_APP_ID | botbill | Faust app id: consumer group and changelog topic prefix |
| BOTBILL_STORE | memory:// | table store (``rocksdb://`` in production) |
| BOTBILL_TIMEOUT | 15m | default inactivity timeout T |
| BOTBILL_BOT_TIMEOUTS | (none) | per-bot T: ``bot-a=30m,bot-b=2h`` |
| BOTBILL_GRACE | 5m | grace before a visit closes |
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

from billing_rules.settings import TimeoutPolicy
from billing_rules.timeutil import parse_duration_ms

__all__ = ["WorkerSettings"]


def _bot_timeouts(text: str) -> dict[str, int]:
    pairs = [p.strip() for p in text.split(",") if p.strip()]
    result: dict[str, int] = {}
    for pair in pairs:
        bot_id, sep, duration = pair.partition("=")
        if not sep:
            raise ValueError(f"BOTBILL_BOT_TIMEOUTS takes bot=duration pairs, got {pair!r}")
        result[bot_id.strip()] = parse_duration_ms(duration)
    return result


@dataclass(frozen=True)
class WorkerSettings:
    bootstrap: str = "127.0.0.1:9092"
    clickhouse_url: str = "clickhouse://default@127.0.0.1:9000/botbill"
    registry_url: str | None = None
    app_id: str = "botbill"
    store: str = "memory://"
    policy: TimeoutPolicy = field(default_factory=TimeoutPolicy)
    grace_ms: int = 5 * 60_000
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
        env = os.environ if env is None else env
        get = env.get
        return cls(
            bootstrap=get("BOTBILL_KAFKA_BOOTSTRAP", cls.bootstrap),
            clickhouse_url=get("BOTBILL_CLICKHOUSE_URL", cls.clickhouse_url),
            registry_url=get("BOTBILL_SCHEMA_REGISTRY_URL") or None,
            app_id=get("BOTBILL_APP_ID", cls.app_id),
            store=get("BOTBILL_STORE", cls.store),
            policy=TimeoutPolicy(parse_duration_ms(get("BOTBILL_TIMEOUT", "15m")),
                                 _bot_timeouts(get("BOTBILL_BOT_TIMEOUTS", ""))),
            grace_ms=parse_duration_ms(get("BOTBILL_GRACE", "5m")),
            idle_seconds=parse_duration_ms(get("BOTBILL_IDLE_INPUT", "30s")) / 1000,
            max_skew_ms=parse_duration_ms(get("BOTBILL_MAX_CLOCK_SKEW", "5m")),
            alert_dedup_retention_ms=parse_duration_ms(
                get("BOTBILL_ALERT_DEDUP_RETENTION", "7d")),
            sink_batch=int(get("BOTBILL_SINK_BATCH", str(cls.sink_batch))),
            sink_within=parse_duration_ms(get("BOTBILL_SINK_WITHIN", "1s")) / 1000,
            stall_seconds=parse_duration_ms(get("BOTBILL_STALL", "60s")) / 1000,
            metrics_port=int(get("BOTBILL_METRICS_PORT", str(cls.metrics_port))),
            partitions=int(get("BOTBILL_PARTITIONS", str(cls.partitions))),
            datadir=os.path.join(get("BOTBILL_HOME", ".botbill"), "worker"),
        )
