"""Throughput and latency of ``botbill worker`` on the real stack (not part of the suite).

    python tests/benchmarks/bench_pipeline.py [--events N] [--rate R] [--seconds S]
                                              [--profile FILE] [--keep]

Defaults (60 000 events, 500 events/s for 30 s) take 2-5 minutes on a 2-core machine.

Needs the local stack (``botbill stack up``). Builds an isolated pipeline: a unique topic
prefix, ClickHouse database, app id (consumer group), metrics port and ``BOTBILL_HOME``;
creates the topics, migrates the database, and at the end stops the worker, drops the
database and deletes the topics (``--keep`` leaves them). Then, in one run:

1. pre-loads N generated events (``streams.traffic``, event time in the last 2 h, see
   ``--span-minutes``) into the input topics, before any worker runs;
2. the ceiling: a plain ``confluent_kafka.Consumer`` reads those topics from the beginning
   and decodes every value with ``AvroCodec.decode`` (plus, in memory, decode alone and
   ``decode_input``, the worker's validation);
3. sustained throughput: starts ``botbill worker`` and times, from its first consumed message,
   until every input is consumed and written to ``raw_events`` and every session, late event
   and dead letter the worker produced is written too (``/metrics``, Kafka high watermarks);
4. latency: with the worker caught up, sends R events/s for S seconds with ``occurred_at``
   stamped at send time; p50/p99 of ``ingested_at - occurred_at`` in ``raw_events`` (the
   sink stamps ``ingested_at`` just before its INSERT) and of the worker's histogram
   ``botbill_end_to_end_latency_seconds`` (event -> session row, bucket-interpolated).

Prints one summary. The machine is shared: compare the ratios measured in one run, not
absolute figures across runs. ``--profile FILE`` samples the worker with ``py-spy`` during
the throughput phase (``.svg``: flame graph; otherwise collapsed stacks and a top list).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MINUTE_MS = 60_000
Snapshot = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Pipeline:
    """The names and environment of one isolated pipeline."""

    bootstrap: str
    clickhouse: str  # user@host:port
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="botbill-bench-")))
    port: int = 0
    worker: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if not self.port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]

    @property
    def prefix(self) -> str:
        return f"bench-{self.tag}-"

    @property
    def app_id(self) -> str:
        return f"botbill-bench-{self.tag}"

    @property
    def database(self) -> str:
        return f"botbill_bench_{self.tag}"

    @property
    def url(self) -> str:
        return f"clickhouse://{self.clickhouse}/{self.database}"

    def env(self) -> dict[str, str]:
        env = {**os.environ, "BOTBILL_TOPIC_PREFIX": self.prefix,
               "BOTBILL_CLICKHOUSE_URL": self.url, "BOTBILL_APP_ID": self.app_id,
               "BOTBILL_METRICS_PORT": str(self.port), "BOTBILL_HOME": str(self.home),
               "BOTBILL_KAFKA_BOOTSTRAP": self.bootstrap}
        env.pop("BOTBILL_SCHEMA_REGISTRY_URL", None)  # single-object framing on both sides
        return env


def _say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def _botbill(pipeline: Pipeline, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "botbill", *args], env=pipeline.env(), cwd=REPO,
                   check=True, capture_output=True, text=True)


# --- /metrics ---------------------------------------------------------------------------


def scrape(port: int) -> Snapshot:
    """Every sample of the worker's ``/metrics``, keyed by name and labels."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(snap: Snapshot, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in snap.items() if n == name and wanted <= ls)


@dataclass(frozen=True)
class Histogram:
    """A histogram's growth between two snapshots."""

    buckets: list[tuple[float, float]]  # (upper bound, cumulative count), +Inf last
    count: float
    sum: float

    @classmethod
    def delta(cls, after: Snapshot, before: Snapshot, name: str, **labels: str) -> Histogram:
        wanted = set(labels.items())
        buckets: defaultdict[float, float] = defaultdict(float)
        for sign, snap in ((1, after), (-1, before)):
            for (sample, ls), value in snap.items():
                if sample == f"{name}_bucket" and wanted <= ls:
                    buckets[float(dict(ls)["le"])] += sign * value

        def grown(sample: str) -> float:
            return total(after, sample, **labels) - total(before, sample, **labels)

        return cls(sorted(buckets.items()), grown(f"{name}_count"), grown(f"{name}_sum"))

    def quantile(self, q: float) -> float | None:
        """Like PromQL ``histogram_quantile``: linear within the bucket holding the rank;
        ``inf`` when it is beyond the largest finite bucket."""
        if self.count <= 0:
            return None
        rank, lower, below = q * self.count, 0.0, 0.0
        for upper, cumulative in self.buckets:
            if cumulative >= rank:
                if upper == float("inf"):
                    return upper
                return lower + (upper - lower) * (rank - below) / max(cumulative - below, 1e-9)
            lower, below = upper, cumulative
        return lower

    def describe(self) -> str:
        """Count, mean and interpolated p50/p99, in milliseconds."""
        if self.count <= 0:
            return "no observations"
        finite = max((b for b, _ in self.buckets if b != float("inf")), default=0.0)

        def ms(q: float) -> str:
            value = self.quantile(q) or 0.0
            return f">{finite * 1000:,.0f}" if value == float("inf") else f"~{value * 1000:,.0f}"

        return (f"{self.count:,.0f} obs, mean {self.sum / self.count * 1000:,.0f} ms, "
                f"p50 {ms(0.5)} ms, p99 {ms(0.99)} ms")


# --- Kafka ------------------------------------------------------------------------------


def high_watermarks(bootstrap: str, topics: Iterable[str]) -> int:
    """Sum of the high watermarks (= messages; nothing is deleted) of ``topics``."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "botbill-bench-offsets",
                         "enable.auto.commit": False, "log_level": 0})
    try:
        metadata = consumer.list_topics(timeout=10).topics
        return sum(consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10,
                                                  cached=False)[1]
                   for t in topics for p in metadata[t].partitions)
    finally:
        consumer.close()


def generate(n: int, *, seed: int, start_ms: int, span_ms: int,
             account_prefix: str) -> list[dict[str, Any]]:
    """The first ``n`` events (in send order) of ``streams.traffic`` over the window; asks it
    for more until the window holds ``n`` (it cuts conversations at the window's end)."""
    from botbill.streams.traffic import generate_events

    count = n
    while True:
        records = list(generate_events(seed=seed, start_ms=start_ms, count=count,
                                       span_ms=span_ms, account_prefix=account_prefix))
        if len(records) >= n:
            return records[:n]
        count = int(count * n / max(len(records), 1) * 1.1) + 1


def preload(bootstrap: str, records: list[dict[str, Any]]) -> float:
    """Send ``records`` with the project's producer; returns the seconds it took."""
    from botbill.billing_rules.events import event_from_mapping
    from botbill.streams.produce import EventProducer

    producer = EventProducer(bootstrap)
    began = time.perf_counter()
    for record in records:
        producer.send(event_from_mapping(record))
    producer.flush()
    return time.perf_counter() - began


def ceiling(bootstrap: str, topics: tuple[str, ...], expected: int,
            group: str) -> dict[str, float]:
    """Consume ``topics`` from the beginning with confluent-kafka and decode every value."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

    from botbill.schemas.codec import AvroCodec
    from botbill.streams.handlers import decode_input

    codec = AvroCodec()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False, "log_level": 0})
    values: list[tuple[str, bytes]] = []
    try:
        metadata = consumer.list_topics(timeout=10).topics
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING)
                         for t in topics for p in metadata[t].partitions])
        decode_s = 0.0
        began: float | None = None  # the clock starts at the first message
        last = time.perf_counter()
        while len(values) < expected:
            batch = consumer.consume(num_messages=10_000, timeout=1.0)
            now = time.perf_counter()
            if not batch and now - last > 30:
                raise SystemExit(f"[bench] ceiling: stuck at {len(values)}/{expected} messages")
            began = now if began is None and batch else began
            started = now
            for message in batch:
                if message.error():
                    raise KafkaException(message.error())
                value = message.value() or b""
                codec.decode(value)
                values.append((message.topic() or "", value))
            decode_s += time.perf_counter() - started
            last = now if batch else last
        elapsed = time.perf_counter() - (began or 0.0)
    finally:
        consumer.close()
    began = time.perf_counter()
    for _, value in values:
        codec.decode(value)
    decode_only = time.perf_counter() - began
    began = time.perf_counter()
    for topic, value in values:
        decode_input(codec, topic, value)
    validate = time.perf_counter() - began
    n = len(values)
    return {"events": n, "seconds": elapsed, "rate": n / elapsed,
            "decode_share": decode_s / elapsed, "decode_rate": n / decode_only,
            "decode_input_rate": n / validate}


def delete_topics(bootstrap: str, pipeline: Pipeline) -> list[str]:
    """Delete the pipeline's topics (ours and Faust's changelogs) and its consumer group."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    names = [t for t in admin.list_topics(timeout=10).topics
             if t.startswith((pipeline.prefix, pipeline.app_id))]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            future.result()
    for future in admin.delete_consumer_groups([pipeline.app_id], request_timeout=15).values():
        with contextlib.suppress(Exception):  # already gone: the group is empty anyway
            future.result()
    return names


# --- the worker ---------------------------------------------------------------------------


def start_worker(pipeline: Pipeline) -> subprocess.Popen[bytes]:
    log = (pipeline.home / "worker.log").open("ab")
    worker = subprocess.Popen([sys.executable, "-m", "botbill", "worker"],
                              env=pipeline.env(), cwd=REPO, stdout=log,
                              stderr=subprocess.STDOUT)
    log.close()
    return worker


def check_alive(worker: subprocess.Popen[bytes], pipeline: Pipeline) -> None:
    if worker.poll() is not None:
        tail = (pipeline.home / "worker.log").read_text(errors="replace").splitlines()[-30:]
        raise SystemExit(f"[bench] the worker exited ({worker.returncode}):\n"
                         + "\n".join(tail))


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Targets:
    inputs: int  # messages on the input topics
    outputs: Callable[[], int]  # messages on the output topics, now


def progress(snap: Snapshot) -> tuple[float, float, float]:
    """(inputs consumed by the agents, raw rows written, output-topic rows written)."""
    consumed = total(snap, "botbill_events_consumed_total")
    raw = total(snap, "botbill_sink_rows_total", table="raw_events")
    outputs = sum(total(snap, "botbill_sink_rows_total", table=t)
                  for t in ("usage_sessions", "alert_sessions", "late_events", "dead_letters"))
    return consumed, raw, outputs


def wait_written(worker: subprocess.Popen[bytes], pipeline: Pipeline, targets: Targets,
                 timeout: float, poll: float = 0.25) -> dict[str, float]:
    """Poll ``/metrics`` until inputs are consumed and written, then outputs written; returns
    the ``time.monotonic()`` of each milestone."""
    marks: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while True:
        check_alive(worker, pipeline)
        consumed, raw, outputs = progress(scrape(pipeline.port))
        now = time.monotonic()
        if consumed >= targets.inputs:
            marks.setdefault("consumed", now)
        if raw >= targets.inputs:
            marks.setdefault("raw", now)
        if len(marks) == 2 and outputs >= targets.outputs():
            marks["all"] = now
            return marks
        if now > deadline:
            raise SystemExit(f"[bench] not done after {timeout:.0f}s: consumed {consumed:.0f}, "
                             f"raw rows {raw:.0f} of {targets.inputs}; output rows "
                             f"{outputs:.0f} of {targets.outputs()}")
        time.sleep(poll)


def send_at_rate(bootstrap: str, records: list[dict[str, Any]], rate: float) -> float:
    """Send ``records`` evenly at ``rate``/s, ``occurred_at`` = wall clock at send time;
    returns the achieved rate."""
    from botbill.billing_rules.events import event_from_mapping
    from botbill.streams.produce import EventProducer

    producer = EventProducer(bootstrap)
    began = time.monotonic()
    for index, record in enumerate(records):
        wait = began + index / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        record["occurred_at"] = int(time.time() * 1000)
        producer.send(event_from_mapping(record))
    elapsed = time.monotonic() - began
    producer.flush()
    return len(records) / elapsed


def clickhouse_latency(url: str, account_prefix: str) -> tuple[int, list[float]]:
    """Rows and p50/p99/max of ``ingested_at - occurred_at`` (ms) of an account prefix."""
    from botbill.sinks.connection import connect

    client = connect(url)
    try:
        [(rows, quantiles, worst)] = client.execute(
            "SELECT count(), quantilesExact(0.5, 0.99)(ingested_at - occurred_at), "
            "max(ingested_at - occurred_at) FROM raw_events WHERE startsWith(account_id, %(p)s)",
            {"p": account_prefix})
    finally:
        client.disconnect()
    return rows, [*quantiles, worst]


def drop_database(pipeline: Pipeline) -> None:
    from clickhouse_driver import Client

    client = Client.from_url(f"clickhouse://{pipeline.clickhouse}/default")
    try:
        client.execute(f"DROP DATABASE IF EXISTS {pipeline.database}")
    finally:
        client.disconnect()


def log_digest(path: Path, limit: int = 5) -> str:
    """Warnings and errors of the worker's log, the most frequent first."""
    counts: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        if "WARNING" in line or "ERROR" in line:
            counts[re.sub(r"\d+", "N", line.split("]", 2)[-1].strip())[:200]] += 1
    if not counts:
        return "worker log: no warnings or errors"
    return "worker log: " + "".join(f"\n  {n:4d} x {text}" for text, n in
                                    counts.most_common(limit))


def summarize_profile(path: Path, top: int = 15) -> str:
    """Top functions by own and by inclusive samples, from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        samples += n
        frames = [f.rsplit(":", 1)[0] + ")" if ":" in f else f for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames[1:]):  # the first frame is the thread
            inclusive[frame] += n
    lines = [f"py-spy: {samples} samples; top own time:"]
    lines += [f"  {n / samples:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines.append("top inclusive time:")
    lines += [f"  {n / samples:6.1%}  {frame}" for frame, n in inclusive.most_common(top * 2)]
    return "\n".join(lines)


# --- the run ------------------------------------------------------------------------------


def run(args: argparse.Namespace, pipeline: Pipeline) -> None:
    os.environ["BOTBILL_TOPIC_PREFIX"] = pipeline.prefix  # read once, at import
    from botbill.streams import topic_names

    if pipeline.prefix != topic_names.PREFIX:
        raise SystemExit("[bench] streams.topic_names was imported before the prefix was set")
    _botbill(pipeline, "topics", "create")
    _botbill(pipeline, "db", "migrate")
    _say(f"pipeline {pipeline.tag}: topics {pipeline.prefix}*, database {pipeline.database}, "
         f"metrics on :{pipeline.port}, home {pipeline.home}")

    span = args.span_minutes * MINUTE_MS
    start = int(time.time() * 1000) - span - MINUTE_MS
    records = generate(args.events, seed=args.seed, start_ms=start, span_ms=span,
                       account_prefix="load-")
    sent_s = preload(pipeline.bootstrap, records)
    inputs = high_watermarks(pipeline.bootstrap, topic_names.INPUT_TOPICS)
    _say(f"pre-loaded {inputs:,} events in {sent_s:.1f}s; ceiling consumer...")
    top = ceiling(pipeline.bootstrap, topic_names.INPUT_TOPICS, inputs,
                  f"{pipeline.app_id}-ceiling")

    _say("starting the worker")
    worker = pipeline.worker = start_worker(pipeline)
    launched = time.monotonic()
    while True:  # fast polls until the first message: the clock starts there
        check_alive(worker, pipeline)
        try:
            before = scrape(pipeline.port)
            if progress(before)[0] > 0:
                break
        except OSError:
            pass
        time.sleep(0.05)
    first = time.monotonic()
    cpu_first = cpu_seconds(worker.pid)
    profiler = None
    if args.profile:
        raw = args.profile.suffix != ".svg"
        profiler = subprocess.Popen(
            ["py-spy", "record", "--nonblocking", "-r", "50", "-d", str(args.profile_seconds),
             "-f", "raw" if raw else "flamegraph", "-o", str(args.profile),
             "--pid", str(worker.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _say(f"worker consuming after {first - launched:.1f}s; waiting for all rows")

    def outputs() -> int:
        return high_watermarks(pipeline.bootstrap, topic_names.OUTPUT_TOPICS)

    marks = wait_written(worker, pipeline, Targets(inputs, outputs), timeout=args.timeout)
    cpu_busy = cpu_seconds(worker.pid) - cpu_first
    loaded = scrape(pipeline.port)
    output_messages = outputs()
    if profiler is not None:
        profiler.wait()
    time.sleep(2)  # let the sessionizer's last sweeps and the lag gauges settle
    caught_up = scrape(pipeline.port)

    _say(f"sending {args.rate:g} events/s for {args.seconds:g}s")
    traffic = generate(int(args.rate * args.seconds), seed=args.seed + 1,
                       start_ms=int(time.time() * 1000), span_ms=int(args.seconds * 1000),
                       account_prefix="rate-")
    achieved = send_at_rate(pipeline.bootstrap, traffic, args.rate)
    wait_written(worker, pipeline, Targets(inputs + len(traffic), outputs), timeout=args.timeout)
    after = scrape(pipeline.port)
    rows, (p50, p99, worst) = clickhouse_latency(pipeline.url, "rate-")

    # --- the summary ---
    e2e = inputs / (marks["all"] - first)
    consumed_rate = inputs / (marks["consumed"] - first)
    raw_rate = inputs / (marks["raw"] - first)
    sink_load = Histogram.delta(loaded, before, "botbill_sink_batch_seconds")
    sink_rate = Histogram.delta(after, caught_up, "botbill_sink_batch_seconds")
    rows_load = total(loaded, "botbill_sink_rows_total") - total(before, "botbill_sink_rows_total")
    rows_rate = total(after, "botbill_sink_rows_total") - total(caught_up,
                                                                 "botbill_sink_rows_total")
    latency = Histogram.delta(after, caught_up, "botbill_end_to_end_latency_seconds")
    per_event = {agent: Histogram.delta(loaded, before, "botbill_processing_seconds",
                                        agent=agent)
                 for agent in ("sessionizer", "alerts")}
    anomalies = {name: total(after, f"botbill_{name}_total")
                 for name in ("late_events", "invalid_events", "sink_errors")}
    headroom = (" -> SATURATED: latency is mostly queueing" if achieved > 0.8 * e2e else "")
    print(f"""
pipeline benchmark ({pipeline.tag}; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})
  pre-load         {inputs:,} events ({args.span_minutes} min of event time) -> {output_messages:,} output messages
  ceiling          {top['rate']:,.0f} events/s  confluent-kafka consume + AvroCodec.decode ({top['decode_share']:.0%} of it decoding)
                   in memory: decode {top['decode_rate']:,.0f}/s, decode_input (decode + validate) {top['decode_input_rate']:,.0f}/s
  worker e2e       {e2e:,.0f} events/s  all inputs consumed and written, and all outputs written
                   inputs consumed {consumed_rate:,.0f}/s, raw_events written {raw_rate:,.0f}/s; start-up {first - launched:.1f}s (excluded)
                   worker CPU {cpu_busy / (marks['all'] - first):.2f} cores over {marks['all'] - first:.1f}s
                   processing per event: sessionizer {per_event['sessionizer'].sum / max(per_event['sessionizer'].count, 1) * 1e3:.3f} ms, alerts {per_event['alerts'].sum / max(per_event['alerts'].count, 1) * 1e3:.3f} ms (mean)
  ratio            worker / ceiling = {e2e / top['rate']:.3f}  (1 : {top['rate'] / e2e:.1f})
  latency @ rate   {args.rate:g}/s asked, {achieved:,.0f}/s sent, {len(traffic):,} events, {rows:,} raw rows (redeliveries may merge)
                   the rate is {achieved / e2e:.0%} of the worker's e2e throughput above{headroom}
                   raw_events ingested_at - occurred_at: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {worst:.0f} ms
                   histogram (event -> session row): {latency.describe()}
  sink batches     throughput phase: {sink_load.describe()}, {rows_load / max(sink_load.count, 1):,.0f} rows/batch
                   rate phase:       {sink_rate.describe()}, {rows_rate / max(sink_rate.count, 1):,.0f} rows/batch
  anomalies        late {anomalies['late_events']:.0f}, invalid {anomalies['invalid_events']:.0f}, sink errors {anomalies['sink_errors']:.0f}""")  # noqa: E501
    print(log_digest(pipeline.home / "worker.log"))
    if args.profile and args.profile.suffix != ".svg" and args.profile.exists():
        print(summarize_profile(args.profile))


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=60_000, help="pre-loaded events")
    parser.add_argument("--span-minutes", type=int, default=120,
                        help="event time the pre-load spans (ending a minute ago)")
    parser.add_argument("--rate", type=float, default=500, help="events/s of the latency phase")
    parser.add_argument("--seconds", type=float, default=30, help="length of the latency phase")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--timeout", type=float, default=300, help="max wait per phase (s)")
    parser.add_argument("--profile", type=Path, help="py-spy the worker's throughput phase")
    parser.add_argument("--profile-seconds", type=int, default=20)
    parser.add_argument("--bootstrap",
                        default=os.environ.get("BOTBILL_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--clickhouse", default="default@127.0.0.1:9000",
                        help="user@host:port of ClickHouse (native protocol)")
    parser.add_argument("--keep", action="store_true",
                        help="leave the worker's topics, database and home behind")
    args = parser.parse_args(argv)
    pipeline = Pipeline(args.bootstrap, args.clickhouse)
    signal.signal(signal.SIGTERM, _interrupt)  # a timeout wrapper cleans up like Ctrl-C
    try:
        run(args, pipeline)
    finally:
        worker = pipeline.worker
        if worker is not None and worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        if args.keep:
            _say(f"kept: topics {pipeline.prefix}*, database {pipeline.database}, "
                 f"home {pipeline.home}")
        else:
            drop_database(pipeline)
            deleted = delete_topics(args.bootstrap, pipeline)
            shutil.rmtree(pipeline.home, ignore_errors=True)
            _say(f"cleaned up: database {pipeline.database}, {len(deleted)} topics")
    return 0


if __name__ == "__main__":
    sys.exit(main())
