"""``botbill stack up | down | status``: the local Kafka + ClickHouse, without Docker.

``up()`` is idempotent and safe to call from many processes at once (a file lock in
``$BOTBILL_HOME`` serialises them): running services are left alone, missing ones are
provisioned and started detached, and it returns only once both answer real requests.
Services outlive the process that started them; only ``down()`` stops them.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from botbill.deploy._clickhouse import ClickHouse
from botbill.deploy._config import HOST, StackConfig
from botbill.deploy._kafka import Kafka
from botbill.deploy._process import Daemon, port_open, tail
from botbill.deploy.exceptions import PortInUse, ServiceFailed, StackError

__all__ = ["Endpoints", "ServiceStatus", "down", "endpoints", "main", "start_service", "status",
           "stop_service", "up"]

log = logging.getLogger("botbill.stack")

EXIT_DOWN = 3
_STOP_GRACE_S = 30.0


class _Service(Protocol):
    name: str
    daemon: Daemon

    @property
    def ports(self) -> dict[str, int]: ...
    @property
    def address(self) -> str: ...
    @property
    def log_files(self) -> list[Path]: ...
    def prepare(self) -> None: ...
    def command(self) -> list[str]: ...
    def answers(self) -> bool: ...


@dataclass(frozen=True)
class Endpoints:
    """How clients reach the stack."""

    kafka_bootstrap: str
    clickhouse_host: str
    clickhouse_port: int
    clickhouse_http_port: int
    home: Path

    @property
    def clickhouse_url(self) -> str:
        """Native-protocol URL, for ``clickhouse_driver.Client.from_url``."""
        return f"clickhouse://{self.clickhouse_host}:{self.clickhouse_port}/default"

    @property
    def clickhouse_http_url(self) -> str:
        return f"http://{self.clickhouse_host}:{self.clickhouse_http_port}"


@dataclass(frozen=True)
class ServiceStatus:
    """One service as ``status()`` found it; ``up`` means it runs *and* answers."""

    name: str
    up: bool
    pid: int | None
    address: str
    detail: str


def endpoints(cfg: StackConfig | None = None) -> Endpoints:
    """The endpoints for the current environment, whether or not the stack runs."""
    cfg = cfg or StackConfig.from_env()
    return Endpoints(
        kafka_bootstrap=cfg.kafka_bootstrap,
        clickhouse_host=HOST,
        clickhouse_port=cfg.clickhouse_port,
        clickhouse_http_port=cfg.clickhouse_http_port,
        home=cfg.home,
    )


def _services(cfg: StackConfig) -> list[_Service]:
    # ClickHouse first: it boots while Maven and the KRaft format run for Kafka.
    return [ClickHouse(cfg), Kafka(cfg)]


@contextmanager
def _locked(cfg: StackConfig) -> Iterator[None]:
    cfg.home.mkdir(parents=True, exist_ok=True)
    with (cfg.home / "stack.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _log_tail(svc: _Service, since: float) -> str:
    """Tails of the logs written since ``since`` (stale logs of an earlier run mislead)."""
    parts = [
        f"[{path.name}]\n{tail(path, 20)}"
        for path in svc.log_files
        if path.exists() and path.stat().st_mtime >= since
    ]
    return "\n".join(parts) or "(no log written yet)"


def _fail(svc: _Service, reason: str, since: float) -> ServiceFailed:
    return ServiceFailed(svc.name, reason, str(svc.log_files[0].parent), _log_tail(svc, since))


def _start(svc: _Service) -> None:
    for label, port in svc.ports.items():
        if port_open(port):
            raise PortInUse(
                svc.name,
                f"{HOST}:{port} ({label})",
                f"it may be a system {svc.name} service or a botbill stack started with another "
                f"BOTBILL_HOME; stop it, or set the BOTBILL_{svc.name.upper()}_*PORT variables",
            )
    svc.prepare()
    pid = svc.daemon.spawn(svc.command(), cwd=svc.daemon.pid_file.parent)
    log.info("started %s (pid %d) on %s", svc.name, pid, svc.address)


def _await(svc: _Service, deadline: float, since: float) -> None:
    while not svc.answers():
        if svc.daemon.pid() is None:
            raise _fail(svc, "exited during start-up", since)
        if time.monotonic() >= deadline:
            raise _fail(svc, f"runs but did not answer on {svc.address} in time", since)
        time.sleep(0.25)


def up(timeout_s: float | None = None) -> Endpoints:
    """Start whatever is not running and wait until Kafka and ClickHouse answer.

    Raises ``StackError`` (with the log tail of the failing service) if that does not
    happen within ``timeout_s`` (default ``BOTBILL_STACK_TIMEOUT``, 120 s).
    """
    cfg = StackConfig.from_env()
    with _locked(cfg):
        deadline = time.monotonic() + (cfg.timeout_s if timeout_s is None else timeout_s)
        services = _services(cfg)
        since = {svc.name: 0.0 for svc in services}
        for svc in services:
            if svc.daemon.pid() is None:
                since[svc.name] = time.time() - 1
                _start(svc)
        for svc in services:
            _await(svc, deadline, since[svc.name])
    return endpoints(cfg)


def down() -> list[str]:
    """Stop both services (SIGTERM, then SIGKILL after 30 s); returns the names stopped."""
    cfg = StackConfig.from_env()
    stopped = []
    with _locked(cfg):
        for svc in reversed(_services(cfg)):
            if svc.daemon.stop(_STOP_GRACE_S):
                log.info("stopped %s", svc.name)
                stopped.append(svc.name)
    return stopped


def _service(cfg: StackConfig, name: str) -> _Service:
    for svc in _services(cfg):
        if svc.name == name:
            return svc
    raise StackError(f"no service {name!r} in the stack (kafka, clickhouse)")


def stop_service(name: str) -> bool:
    """Stop one service (``"kafka"`` or ``"clickhouse"``) and leave the other running, e.g.
    for an outage drill; returns whether it was running. ``start_service`` or ``up``
    brings it back."""
    cfg = StackConfig.from_env()
    with _locked(cfg):
        svc = _service(cfg, name)
        stopped = svc.daemon.stop(_STOP_GRACE_S)
    if stopped:
        log.info("stopped %s", svc.name)
    return stopped


def start_service(name: str, timeout_s: float | None = None) -> None:
    """Start one service unless it runs, and wait until it answers (like ``up``, for one)."""
    cfg = StackConfig.from_env()
    with _locked(cfg):
        deadline = time.monotonic() + (cfg.timeout_s if timeout_s is None else timeout_s)
        svc = _service(cfg, name)
        since = 0.0
        if svc.daemon.pid() is None:
            since = time.time() - 1
            _start(svc)
        _await(svc, deadline, since)


def status() -> list[ServiceStatus]:
    """What runs where; a service counts as up only if it answers a request."""
    result = []
    for svc in reversed(_services(StackConfig.from_env())):
        pid = svc.daemon.pid()
        if pid is None:
            taken = [f"{HOST}:{port}" for port in svc.ports.values() if port_open(port)]
            detail = (
                f"not running; {', '.join(taken)} taken by another process"
                if taken
                else ("not running")
            )
            result.append(ServiceStatus(svc.name, False, None, svc.address, detail))
            continue
        answers = svc.answers()
        detail = "answering" if answers else "running but not answering (starting, or hung)"
        result.append(ServiceStatus(svc.name, answers, pid, svc.address, detail))
    return result


def _print_status(rows: list[ServiceStatus], home: Path) -> None:
    for row in rows:
        pid = f"pid {row.pid}" if row.pid else "-"
        state = "up" if row.up else "down"
        print(f"{row.name:<11} {state:<5} {pid:<11} {row.address}  [{row.detail}]")
    print(f"home: {home}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="botbill stack", description="Local Kafka (KRaft) + ClickHouse, no Docker."
    )
    sub = parser.add_subparsers(dest="action", required=True)
    start = sub.add_parser("up", help="provision and start (idempotent), wait until ready")
    start.add_argument("--timeout", type=float, help="seconds to wait (BOTBILL_STACK_TIMEOUT)")
    sub.add_parser("down", help="stop both services (idempotent)")
    sub.add_parser("status", help="show pid, address and state; exit 3 if anything is down")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="botbill stack: %(message)s")
    try:
        home = StackConfig.from_env().home
        if args.action == "up":
            started = time.monotonic()
            eps = up(args.timeout)
            print(
                f"stack up in {time.monotonic() - started:.1f}s: kafka {eps.kafka_bootstrap}, "
                f"clickhouse {eps.clickhouse_url} (http {eps.clickhouse_http_url})"
            )
            _print_status(status(), home)
            return 0
        if args.action == "down":
            stopped = down()
            print(f"stopped: {', '.join(stopped)}" if stopped else "stack was not running")
            return 0
        rows = status()
        _print_status(rows, home)
        return 0 if all(row.up for row in rows) else EXIT_DOWN
    except StackError as exc:
        print(f"botbill stack {args.action}: error: {exc}", file=sys.stderr)
        return 1
