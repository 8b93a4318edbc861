"""Where the stack lives and which ports it uses, read once from the environment.

Every file the stack writes (downloads, data, logs, pid files) is under ``home`` so that
``rm -rf $BOTBILL_HOME`` after ``botbill stack down`` is a complete reset.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from botbill.deploy.exceptions import StackError

__all__ = ["HOST", "StackConfig"]

HOST = "127.0.0.1"


def _port(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip() or str(default)
    try:
        port = int(raw)
    except ValueError:
        raise StackError(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise StackError(f"{name}={port} is outside 1..65535")
    return port


@dataclass(frozen=True)
class StackConfig:
    """Ports and paths of one local stack; ``from_env`` is the only constructor callers need."""

    home: Path
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    clickhouse_port: int = 9000
    clickhouse_http_port: int = 8123
    timeout_s: float = 120.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> StackConfig:
        env = dict(os.environ if env is None else env)
        home = Path(env.get("BOTBILL_HOME") or ".botbill").expanduser().resolve()
        ports = {
            "kafka_port": _port(env, "BOTBILL_KAFKA_PORT", 9092),
            "kafka_controller_port": _port(env, "BOTBILL_KAFKA_CONTROLLER_PORT", 9093),
            "clickhouse_port": _port(env, "BOTBILL_CLICKHOUSE_PORT", 9000),
            "clickhouse_http_port": _port(env, "BOTBILL_CLICKHOUSE_HTTP_PORT", 8123),
        }
        if len(set(ports.values())) != len(ports):
            raise StackError(f"the stack's ports must differ, got {ports}")
        raw_timeout = env.get("BOTBILL_STACK_TIMEOUT", "").strip() or "120"
        try:
            timeout_s = float(raw_timeout)
        except ValueError:
            raise StackError(f"BOTBILL_STACK_TIMEOUT={raw_timeout!r} is not seconds") from None
        return cls(home=home, timeout_s=timeout_s, **ports)

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    @property
    def clickhouse_dir(self) -> Path:
        return self.home / "clickhouse"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{HOST}:{self.kafka_port}"
