"""The services botbill runs on: the local Kafka + ClickHouse stack (``deploy.stack``,
no Docker needed) and the ops files beside it (compose, Prometheus, Grafana)."""

__all__: list[str] = []
