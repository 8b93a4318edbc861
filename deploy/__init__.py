"""The services botbill runs on: the local Kafka + ClickHouse stack (``deploy.stack``,
no Docker needed) and the ops files beside it (compose, Prometheus, Grafana)."""

from __future__ import annotations

from .exceptions import MissingTool, PortInUse, ServiceFailed, StackError
from .stack import Endpoints, ServiceStatus, down, endpoints, status, up

__all__ = [
    "Endpoints",
    "MissingTool",
    "PortInUse",
    "ServiceFailed",
    "ServiceStatus",
    "StackError",
    "down",
    "endpoints",
    "status",
    "up",
]
