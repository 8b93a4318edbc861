"""One isolated streaming pipeline on the real stack, driven through the ``botbill`` CLI.

Each :class:`Pipeline` has its own topic prefix, ClickHouse database, Faust app id, metrics
port and ``BOTBILL_HOME``, so test modules (and engineers) sharing the broker and the server
never see each other's data. ``start`` runs ``botbill topics create``, ``botbill db
migrate`` and ``botbill worker`` as subprocesses; ``stop`` ends the worker, drops the
database and deletes every topic of the prefix (Faust's changelogs included: the app id
starts with the prefix).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import orjson
from clickhouse_driver import Client
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from prometheus_client.parser import text_string_to_metric_families

from botbill.billing_rules.timeutil import format_ms
from tests.examples_dir import BOTBILL

__all__ = [
    "EXAMPLES",
    "REPO",
    "Pipeline",
    "PipelineFailed",
    "json_lines",
    "normalized",
    "write_events",
]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
T = TypeVar("T")


class PipelineFailed(AssertionError):
    """A step of the pipeline failed or timed out; the message carries the worker's log."""


def _botbill() -> list[str]:
    """The ``botbill`` command of this interpreter's environment."""
    return list(BOTBILL)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def normalized(lines: Iterable[str]) -> list[str]:
    """JSON lines -> canonical text (sorted keys, compact), sorted: order-free comparison."""
    return sorted(json.dumps(json.loads(line), sort_keys=True, separators=(",", ":"))
                  for line in lines if line.strip())


def json_lines(event: Mapping[str, Any]) -> bytes:
    """An event mapping as a JSON line of BILLING_RULES §1 (RFC 3339 ``occurred_at``)."""
    record = dict(event)
    if isinstance(record["occurred_at"], int):
        record["occurred_at"] = format_ms(record["occurred_at"])
    return orjson.dumps(record) + b"\n"


def write_events(path: Path, events: Iterable[Mapping[str, Any]]) -> Path:
    """Write events (epoch-ms or RFC 3339 ``occurred_at``) as JSON Lines, in the given order."""
    with path.open("wb") as out:
        for event in events:
            out.write(json_lines(event))
    return path


class Pipeline:
    """Topics, database and worker of one test module; see the module docstring."""

    def __init__(self, home: Path, *, kafka_bootstrap: str, clickhouse_host: str,
                 clickhouse_port: int, env: Mapping[str, str] | None = None) -> None:
        tag = uuid.uuid4().hex[:10]
        self.home = home
        self.prefix = f"e2e{tag}-"
        self.database = f"botbill_e2e_{tag}"
        self.bootstrap = kafka_bootstrap
        self.server_url = f"clickhouse://default@{clickhouse_host}:{clickhouse_port}"
        self.url = f"{self.server_url}/{self.database}"
        self.metrics_port = _free_port()
        self.log_path = home / "worker.log"
        self.env = {  # only these BOTBILL_* settings: the outer environment's do not leak in
            **{k: v for k, v in os.environ.items() if not k.startswith("BOTBILL_")},
            "BOTBILL_TOPIC_PREFIX": self.prefix,
            "BOTBILL_APP_ID": f"{self.prefix}app",
            "BOTBILL_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "BOTBILL_CLICKHOUSE_URL": self.url,
            "BOTBILL_METRICS_PORT": str(self.metrics_port),
            "BOTBILL_HOME": str(home),
            "BOTBILL_LOGLEVEL": "info",
            **(env or {}),
        }
        self.worker: subprocess.Popen[bytes] | None = None
        self._producer: Producer | None = None

    # -- names -----------------------------------------------------------------------------

    @property
    def app_id(self) -> str:
        """The worker's app id: the consumer group, and the changelog topics' prefix."""
        return self.env.get("BOTBILL_APP_ID") or f"{self.prefix}botbill"

    def topic(self, name: str) -> str:
        """The prefixed name of a botbill topic (``conversation-turns`` ...)."""
        return self.prefix + name

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, ready_timeout: float = 120.0) -> None:
        """Create the topics and the schema, start the worker, wait until /health answers."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.botbill("topics", "create")
        self.botbill("db", "migrate")
        self.start_worker(ready_timeout)

    def start_worker(self, ready_timeout: float = 120.0) -> None:
        """``botbill worker`` in the background (log: ``log_path``), once /health answers."""
        if self.worker is not None:
            raise PipelineFailed("the worker is already running")
        with self.log_path.open("ab") as log:
            self.worker = subprocess.Popen([*_botbill(), "worker"], env=self.env, cwd=REPO,
                                           stdout=log, stderr=subprocess.STDOUT)
        self.wait_until(lambda: self.health() is not None, ready_timeout,
                        "the worker's /health to answer")

    def stop(self) -> None:
        """End the worker, then drop the database and delete the prefix's topics. Every
        step runs even if an earlier one failed; the first error is raised at the end."""
        errors: list[BaseException] = []
        for step in (self.stop_worker, self._close_producer, self._drop_database,
                     self._delete_topics):
            try:
                step()
            except Exception as error:
                errors.append(error)
        if errors:
            raise errors[0]

    def stop_worker(self, timeout: float = 60.0,
                    signal_to_send: signal.Signals = signal.SIGTERM) -> None:
        """SIGTERM (Faust shuts down cleanly), SIGKILL after ``timeout`` seconds."""
        worker, self.worker = self.worker, None
        if worker is None:
            return
        if worker.poll() is None:
            worker.send_signal(signal_to_send)
            try:
                worker.wait(timeout)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(30)

    def _close_producer(self) -> None:
        if self._producer is not None:
            self._producer.flush(30)
            self._producer = None

    def _drop_database(self) -> None:
        client = Client.from_url(f"{self.server_url}/default")
        try:
            client.execute(f"DROP DATABASE IF EXISTS {self.database}")
        finally:
            client.disconnect()

    def _delete_topics(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        names = [name for name in admin.list_topics(timeout=30).topics
                 if name.startswith(self.prefix)]
        if names:
            for future in admin.delete_topics(names, operation_timeout=60).values():
                future.result()
        with contextlib.suppress(KafkaException):  # the group may never have formed
            for future in admin.delete_consumer_groups([self.app_id]).values():
                future.result()

    # -- the CLI ---------------------------------------------------------------------------

    def botbill(self, *args: str, check: bool = True,
                timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run ``botbill ARGS`` with this pipeline's environment."""
        done = subprocess.run([*_botbill(), *args], env=self.env, cwd=REPO, text=True,
                              capture_output=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise PipelineFailed(f"botbill {' '.join(args)} exited {done.returncode}:\n"
                                 f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
        return done

    def produce_file(self, path: Path) -> int:
        """``botbill produce --from PATH``; returns how many messages it sent."""
        done = self.botbill("produce", "--from", str(path))
        match = re.search(r"sent (\d+) message", done.stderr)
        if match is None:
            raise PipelineFailed(f"botbill produce said: {done.stderr}")
        return int(match.group(1))

    def export(self) -> list[str] | None:
        """``botbill sessions export`` lines; ``None`` when it fails (ClickHouse down)."""
        done = self.botbill("sessions", "export", check=False, timeout=120)
        return done.stdout.splitlines() if done.returncode == 0 else None

    def replay(self, path: Path) -> list[str]:
        """``botbill replay PATH``: what the stream must end up with."""
        return self.botbill("replay", str(path)).stdout.splitlines()

    # -- observing the worker --------------------------------------------------------------

    def _get(self, page: str) -> tuple[int, bytes] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/{page}",
                                        timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read()
        except OSError:  # not listening yet, or gone
            return None

    def health(self) -> dict[str, Any] | None:
        """The worker's /health (``healthy``, ``detail``), or None while it does not answer."""
        answer = self._get("health")
        if answer is None:
            return None
        try:
            body: dict[str, Any] = json.loads(answer[1])
        except ValueError:
            return None
        return body

    def _samples(self) -> list[Any]:
        answer = self._get("metrics")
        if answer is None or answer[0] != 200:
            return []
        return [sample for family in text_string_to_metric_families(answer[1].decode())
                for sample in family.samples]

    def metrics(self) -> dict[str, float]:
        """Every sample of /metrics by sample name (``botbill_sink_errors_total`` ...),
        summed over labels; ``{}`` while the worker does not answer."""
        totals: dict[str, float] = {}
        for sample in self._samples():
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
        return totals

    def metric(self, name: str, **labels: str) -> float:
        """One sample of /metrics, summed over the labels not given; 0 when absent."""
        return sum(sample.value for sample in self._samples() if sample.name == name
                   and all(sample.labels.get(k) == v for k, v in labels.items()))

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no worker log)"
        return "\n".join(text.splitlines()[-lines:])

    def assert_alive(self) -> None:
        if self.worker is None or self.worker.poll() is not None:
            code = None if self.worker is None else self.worker.returncode
            raise PipelineFailed(f"the worker is not running (exit code {code}); "
                                 f"log {self.log_path}:\n{self.log_tail()}")

    def wait_until(self, check: Callable[[], T | None], timeout: float, what: str,
                   every: float = 1.0) -> T:
        """Poll ``check`` until it returns something truthy (returned), the worker dies, or
        ``timeout`` seconds pass (:class:`PipelineFailed` with the worker's log)."""
        deadline = time.monotonic() + timeout
        while True:
            self.assert_alive()
            result = check()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise PipelineFailed(f"timed out after {timeout:.0f}s waiting for {what}; "
                                     f"health {self.health()}; log {self.log_path}:\n"
                                     f"{self.log_tail()}")
            time.sleep(every)

    def wait_for_export(self, expected: list[str], timeout: float = 180.0) -> list[str]:
        """Poll the export until it equals ``expected`` (compared with :func:`normalized`);
        on timeout the error shows what differs."""
        want = normalized(expected)
        last: list[str] = []

        def matches() -> bool:
            nonlocal last
            rows = self.export()
            if rows is None:
                return False
            last = normalized(rows)
            return last == want

        try:
            self.wait_until(matches, timeout, f"the export to equal {len(want)} rows", 2.0)
        except PipelineFailed as error:
            missing = sorted(set(want) - set(last))
            extra = sorted(set(last) - set(want))
            raise PipelineFailed(f"{error}\nexport has {len(last)} rows, expected "
                                 f"{len(want)}; missing {len(missing)}: {missing[:5]}; "
                                 f"unexpected {len(extra)}: {extra[:5]}") from None
        return last

    def wait_caught_up(self, consumed: int, timeout: float = 180.0, settle: float = 3.0,
                       ) -> None:
        """Wait until the agents consumed ``consumed`` input messages in all and /health
        shows nothing waiting (twice in a row), then ``settle`` seconds more."""
        def nothing_waiting() -> bool:
            done = self.metrics().get("botbill_events_consumed_total", 0.0)
            health = self.health()
            return (done >= consumed and health is not None
                    and re.search(r"[1-9]\d* (messages )?waiting", health["detail"]) is None)

        self.wait_until(nothing_waiting, timeout, f"{consumed} input messages to be consumed "
                        "and nothing waiting")
        time.sleep(2.0)
        self.wait_until(nothing_waiting, timeout, "nothing waiting (again)")
        time.sleep(settle)

    # -- direct access, for what the CLI does not show -------------------------------------

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run ``sql`` in this pipeline's database."""
        client = Client.from_url(self.url)
        try:
            rows: list[tuple[Any, ...]] = client.execute(sql, dict(params or {}))
            return rows
        finally:
            client.disconnect()

    def send_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Send bytes as they are to the prefixed ``topic`` (malformed input)."""
        if self._producer is None:
            self._producer = Producer({"bootstrap.servers": self.bootstrap, "acks": "all"})
        self._producer.produce(self.topic(topic), value=value, key=key)
        if self._producer.flush(30):
            raise PipelineFailed(f"could not send to {self.topic(topic)}")

    def read_topic(self, topic: str, timeout: float = 30.0) -> list[tuple[bytes | None, bytes]]:
        """Every ``(key, value)`` of the prefixed ``topic``, from the start to its end."""
        name = self.topic(topic)
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"{name}-reader",
                             "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        try:
            metadata = consumer.list_topics(name, timeout=timeout).topics[name]
            ends = {}
            for partition in metadata.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(name, partition),
                                                           timeout=timeout)
                if high > low:
                    ends[partition] = high
            consumer.assign([TopicPartition(name, p, 0) for p in ends])
            found: list[tuple[bytes | None, bytes]] = []
            deadline = time.monotonic() + timeout
            while ends and time.monotonic() < deadline:
                message = consumer.poll(1.0)
                if message is None:
                    continue
                if message.error() is not None:
                    raise KafkaException(message.error())
                found.append((message.key(), message.value() or b""))
                if (message.offset() or 0) + 1 >= ends.get(message.partition() or 0, 0):
                    ends.pop(message.partition(), None)
            return found
        finally:
            with contextlib.suppress(Exception):
                consumer.close()
