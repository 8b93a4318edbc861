"""``botbill topics create | list``: declare the Kafka topics of ``topic_names``.

Creation is declarative and idempotent: missing topics are created, existing ones get their
retention settings re-applied, and a partition count that differs from the configured one is
an error, never "fixed": adding partitions re-maps keys to partitions and would split a
conversation's events from its state.

Only ``bot-entitlements`` is compacted (its latest value per bot *is* the entitlement);
other outputs are keyed by ``bot_id`` (one key, many sessions or entries), so compaction
would drop data. Faust's own changelog topics are compacted too (Faust creates them). The
broker runs with ``auto.create.topics.enable=false``, so run this before producing.

| variable | default | meaning |
|---|---|---|
| BOTBILL_KAFKA_BOOTSTRAP | 127.0.0.1:9092 | Kafka bootstrap servers |
| BOTBILL_PARTITIONS | 4 | partitions of every topic |
| BOTBILL_REPLICATION | 1 | replication factor (``min.insync.replicas`` = min(2, this)) |
| BOTBILL_INPUT_RETENTION_DAYS | 7 | inputs: replay window for reprocessing |
| BOTBILL_OUTPUT_RETENTION_DAYS | 30 | sessions: re-load ClickHouse after an incident |
| BOTBILL_AUDIT_RETENTION_DAYS | 90 | late events and dead letters: time to investigate |
| BOTBILL_MONEY_RETENTION_DAYS | 90 | wallet ledger and notifications (ClickHouse keeps them) |

``account-events`` (MONEY_RULES §1) is kept forever: wallets and invoices are recomputed from
it (``replay``), so it is never deleted by time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

from .exceptions import TopicError
from .topic_names import TOPIC_SPECS, TopicKind, TopicSpec

__all__ = ["TopicError", "TopicInfo", "TopicSettings", "create_topics", "describe_topics", "main"]

EXIT_MISSING = 3
_DAY_MS = 24 * 3600 * 1000
_KEPT_FOREVER: frozenset[TopicKind] = frozenset({"account", "entitlement"})
_COMPACTED: frozenset[TopicKind] = frozenset({"entitlement"})
_RETENTION_ENV: dict[TopicKind, tuple[str, int]] = {
    "input": ("BOTBILL_INPUT_RETENTION_DAYS", 7),
    "output": ("BOTBILL_OUTPUT_RETENTION_DAYS", 30),
    "audit": ("BOTBILL_AUDIT_RETENTION_DAYS", 90),
    "money": ("BOTBILL_MONEY_RETENTION_DAYS", 90),
}


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip() or str(default)
    if not raw.isdigit() or int(raw) < 1:
        raise TopicError(f"{name}={raw!r} must be a positive whole number")
    return int(raw)


@dataclass(frozen=True)
class TopicSettings:
    """How topics are created; ``from_env`` reads the variables in the module docstring."""

    bootstrap: str = "127.0.0.1:9092"
    partitions: int = 4
    replication: int = 1
    connect_timeout_s: float = 10.0
    retention_days: dict[TopicKind, int] = field(
        default_factory=lambda: {kind: days for kind, (_, days) in _RETENTION_ENV.items()}
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TopicSettings:
        env = os.environ if env is None else env
        return cls(
            bootstrap=env.get("BOTBILL_KAFKA_BOOTSTRAP", "").strip() or cls.bootstrap,
            partitions=_positive_int(env, "BOTBILL_PARTITIONS", cls.partitions),
            replication=_positive_int(env, "BOTBILL_REPLICATION", cls.replication),
            retention_days={
                kind: _positive_int(env, var, days) for kind, (var, days) in _RETENTION_ENV.items()
            },
        )

    def config(self, spec: TopicSpec) -> dict[str, str]:
        """The topic-level configs botbill manages for ``spec``."""
        return {
            "cleanup.policy": "compact" if spec.kind in _COMPACTED else "delete",
            "retention.ms": ("-1" if spec.kind in _KEPT_FOREVER
                             else str(self.retention_days[spec.kind] * _DAY_MS)),
            "min.insync.replicas": str(min(2, self.replication)),
            "message.timestamp.type": "CreateTime",
        }


@dataclass(frozen=True)
class TopicInfo:
    """A botbill topic as the broker reports it (``partitions`` 0 when it does not exist)."""

    name: str
    partitions: int
    replication: int
    config: dict[str, str]

    @property
    def exists(self) -> bool:
        return self.partitions > 0


def _admin(settings: TopicSettings) -> AdminClient:
    admin = AdminClient({"bootstrap.servers": settings.bootstrap, "log_level": 0})
    try:
        admin.list_topics(timeout=settings.connect_timeout_s)
    except KafkaException as exc:
        raise TopicError(
            f"cannot reach Kafka at {settings.bootstrap} ({exc.args[0]}); start it with "
            "`botbill stack up` or set BOTBILL_KAFKA_BOOTSTRAP"
        ) from exc
    return admin


def _kafka_error(exc: BaseException) -> KafkaError | None:
    arg = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    return arg if isinstance(arg, KafkaError) else None


def describe_topics(settings: TopicSettings | None = None) -> list[TopicInfo]:
    """Partitions, replication and managed configs of every botbill topic."""
    return _describe(_admin(settings or TopicSettings.from_env()))


def _describe(admin: AdminClient) -> list[TopicInfo]:
    metadata = admin.list_topics(timeout=10).topics
    present = [spec.name for spec in TOPIC_SPECS if spec.name in metadata]
    configs: dict[str, dict[str, str]] = {name: {} for name in present}
    if present:
        resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in present]
        for resource, future in admin.describe_configs(resources, request_timeout=15).items():
            entries: dict[str, Any] = future.result(timeout=15)
            configs[resource.name] = {k: str(entry.value) for k, entry in entries.items()}
    result = []
    for spec in TOPIC_SPECS:
        topic = metadata.get(spec.name)
        if topic is None:
            result.append(TopicInfo(spec.name, 0, 0, {}))
            continue
        replicas = min((len(p.replicas) for p in topic.partitions.values()), default=0)
        result.append(TopicInfo(spec.name, len(topic.partitions), replicas, configs[spec.name]))
    return result


def create_topics(settings: TopicSettings | None = None) -> dict[str, str]:
    """Create missing topics, re-apply configs of existing ones; name -> "created"/"exists".

    Raises ``TopicError`` if Kafka refuses, or if an existing topic's partition count or
    replication factor differs from ``BOTBILL_PARTITIONS`` / ``BOTBILL_REPLICATION``.
    """
    settings = settings or TopicSettings.from_env()
    admin = _admin(settings)
    new = [
        NewTopic(spec.name, settings.partitions, settings.replication, config=settings.config(spec))
        for spec in TOPIC_SPECS
    ]
    outcome: dict[str, str] = {}
    for name, future in admin.create_topics(new, operation_timeout=30, request_timeout=45).items():
        try:
            future.result()
            outcome[name] = "created"
        except KafkaException as exc:
            error = _kafka_error(exc)
            if error is None or error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TopicError(f"creating topic {name!r} failed: {exc}") from exc
            outcome[name] = "exists"
    _check_layout(admin, settings)
    existing = [spec for spec in TOPIC_SPECS if outcome[spec.name] == "exists"]
    _apply_configs(admin, settings, existing)
    return outcome


def _apply_configs(admin: AdminClient, settings: TopicSettings, specs: list[TopicSpec]) -> None:
    if not specs:
        return
    resources = [
        ConfigResource(
            ConfigResource.Type.TOPIC,
            spec.name,
            incremental_configs=[
                ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
                for key, value in settings.config(spec).items()
            ],
        )
        for spec in specs
    ]
    for resource, future in admin.incremental_alter_configs(resources).items():
        try:
            future.result()
        except KafkaException as exc:
            raise TopicError(f"updating configs of {resource.name!r} failed: {exc}") from exc


def _check_layout(admin: AdminClient, settings: TopicSettings) -> None:
    infos = _describe(admin)
    deadline = time.monotonic() + 15
    while any(not i.exists for i in infos) and time.monotonic() < deadline:
        time.sleep(0.2)  # just created: the broker's metadata has not caught up yet
        infos = _describe(admin)
    wrong = [f"{i.name} has {i.partitions}" for i in infos if i.partitions != settings.partitions]
    if wrong:
        raise TopicError(
            f"partition counts differ from BOTBILL_PARTITIONS={settings.partitions}: "
            f"{'; '.join(wrong)}. Set BOTBILL_PARTITIONS to the topics' count, or delete and "
            "recreate the topics (their data is lost); never add partitions in place, it "
            "re-maps conversation keys away from their state."
        )
    wrong = [
        f"{i.name} has {i.replication}" for i in infos if i.replication != settings.replication
    ]
    if wrong:
        raise TopicError(
            f"replication factors differ from BOTBILL_REPLICATION={settings.replication}: "
            f"{'; '.join(wrong)}. Set BOTBILL_REPLICATION to match, or reassign the partitions "
            "with kafka-reassign-partitions."
        )


def _print_table(infos: list[TopicInfo]) -> None:
    specs = {spec.name: spec for spec in TOPIC_SPECS}
    print(f"{'topic':<20} {'partitions':>10} {'replicas':>8} {'retention':>9}  key")
    for info in infos:
        if not info.exists:
            print(f"{info.name:<20} {'missing':>10}")
            continue
        days = int(info.config.get("retention.ms", "0")) / _DAY_MS
        retention = f"{days:g}d" if days > 0 else "forever"
        if info.config.get("cleanup.policy") == "compact":
            retention = "compacted"
        print(
            f"{info.name:<20} {info.partitions:>10} {info.replication:>8} {retention:>9}  "
            f"{specs[info.name].key}"
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="botbill topics", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("create", help="create missing topics, re-apply configs (idempotent)")
    sub.add_parser("list", help="show the botbill topics; exit 3 if any is missing")
    args = parser.parse_args(argv)
    try:
        settings = TopicSettings.from_env()
        if args.action == "create":
            for name, state in create_topics(settings).items():
                print(f"{name:<20} {state}")
            return 0
        infos = describe_topics(settings)
        _print_table(infos)
        return 0 if all(info.exists for info in infos) else EXIT_MISSING
    except TopicError as exc:
        print(f"botbill topics {args.action}: error: {exc}", file=sys.stderr)
        return 1
