"""The worker's Prometheus metrics (served on ``/metrics``); names are part of the ops
contract (``deploy/alert_rules.yml``, ``deploy/grafana-dashboard.json``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)


class Metrics:
    """One set of metrics per worker, on its own registry (tests build several)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events_consumed = Counter(
            "botbill_events_consumed", "Messages consumed, per topic", ["topic"], registry=r)
        self.invalid_events = Counter(
            "botbill_invalid_events", "Messages that failed decoding or validation "
            "(sent to the dead-letter topic)", ["topic"], registry=r)
        self.internal_errors = Counter(
            "botbill_internal_errors", "Messages an agent failed on through a bug, not bad "
            "input (logged with the traceback, parked in the dead-letter topic)", ["agent"],
            registry=r)
        self.input_rewinds = Counter(
            "botbill_input_rewinds", "Times an agent was handed a partition's messages past "
            "a hole and sought back to the missing offset", ["topic"], registry=r)
        self.partition_nudges = Counter(
            "botbill_partition_nudges", "Times a partition with input waiting and no commit "
            "was read again from its committed offset", ["topic"], registry=r)
        self.input_holes = Counter(
            "botbill_input_holes", "Holes in a partition's offsets that rewinds could not "
            "fill (accepted and logged as errors; should never happen)", ["topic"],
            registry=r)
        self.partition_waiting = Gauge(
            "botbill_partition_waiting", "Per partition the worker reads, as the broker sees "
            "it: log end offset minus the group's committed offset", ["topic", "partition"],
            registry=r)
        self.partition_stalled_seconds = Gauge(
            "botbill_partition_stalled_seconds", "Per partition, how long messages have been "
            "waiting without the group's committed offset moving (0: not stuck)",
            ["topic", "partition"], registry=r)
        self.stalled_partitions = Gauge(
            "botbill_stalled_partitions", "Partitions stalled longer than BOTBILL_STALL "
            "(input waiting, no commit): /health answers 503 while this is above 0",
            registry=r)
        self.duplicate_events = Counter(
            "botbill_duplicate_events", "Redelivered events (same event_id), ignored (R1)",
            ["topic"], registry=r)
        self.test_events = Counter(
            "botbill_test_events", "Test traffic dropped before billing (R2)", ["topic"],
            registry=r)
        self.late_events = Counter(
            "botbill_late_events", "Events for closed visits (sent to the late-events topic)",
            ["topic"], registry=r)
        self.sessions_opened = Counter(
            "botbill_sessions_opened", "Usage sessions opened or updated", registry=r)
        self.sessions_voided = Counter(
            "botbill_sessions_voided", "Usage sessions voided by a correction", registry=r)
        self.alert_sessions = Counter(
            "botbill_alert_sessions", "Alert sessions billed (R8)", registry=r)
        self.open_conversations = Gauge(
            "botbill_open_conversations", "Conversations held in the sessionizer's state",
            registry=r)
        self.sink_rows = Counter(
            "botbill_sink_rows", "Rows written to ClickHouse, per table", ["table"], registry=r)
        self.sink_batch_seconds = Histogram(
            "botbill_sink_batch_seconds", "Time to write one batch to ClickHouse", registry=r)
        self.sink_errors = Counter(
            "botbill_sink_errors", "Failed ClickHouse writes (each is retried)", registry=r)
        self.sink_retries = Counter(
            "botbill_sink_retries", "Retries of ClickHouse batches", registry=r)
        self.event_time_lag = Gauge(
            "botbill_event_time_lag_seconds", "Wall clock minus the stream's event time, per "
            "input partition", ["partition"], registry=r)
        self.consumer_lag = Gauge(
            "botbill_consumer_lag", "Messages an agent has still to read (high-water mark "
            "minus its position)", ["agent"], registry=r)
        self.end_to_end_latency = Histogram(
            "botbill_end_to_end_latency_seconds", "occurred_at of an input event to its rows "
            "being in ClickHouse", buckets=_LATENCY_BUCKETS, registry=r)
        self.processing_seconds = Histogram(
            "botbill_processing_seconds", "Time to process one input event in an agent",
            ["agent"], registry=r)
