"""Where the admin API appends account events: Kafka (``account-events``, key ``bot_id``) with
an idempotent producer and ``acks=all``, or a list in memory for unit tests.

A POST is answered 202 only after Kafka acknowledged its events; if it did not, the API
answers 503 and the client retries with the same ``Idempotency-Key``: the same ``event_id``
is sent again and counts once (R1).
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from botbill.schemas import ACCOUNT_EVENT_SCHEMAS, AvroCodec
from botbill.streams import topic_names

from .exceptions import EventsUnavailable

__all__ = ["EventLog", "KafkaEventLog", "MemoryEventLog"]


class EventLog(Protocol):
    def append(self, records: list[dict[str, Any]]) -> None:
        """Append account event records (``type`` + MONEY_RULES §1 fields, times in ms) or
        raise :class:`EventsUnavailable`."""

    def close(self) -> None: ...


class MemoryEventLog:
    """An in-memory log (unit tests of the API without Kafka): encodes like Kafka would, so a
    record of the wrong shape still fails."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._codec = AvroCodec()

    def append(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            body = {k: v for k, v in record.items() if k != "type"}
            self._codec.encode(ACCOUNT_EVENT_SCHEMAS[record["type"]], body)
        self.records.extend(records)

    def close(self) -> None:
        pass


class KafkaEventLog:
    def __init__(self, bootstrap: str, *, topic: str | None = None,
                 registry_url: str | None = None, timeout_s: float = 15.0) -> None:
        self.topic = topic or topic_names.ACCOUNT_EVENTS
        self._timeout_s = timeout_s
        self._codec = AvroCodec(registry_url)
        self._lock = threading.Lock()
        self._producer = Producer({
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 0,
            "message.timeout.ms": int(timeout_s * 1000),
            # Java's murmur2, as Faust's producer: a bot_id key lands on the same partition
            # of account-events as of usage-sessions, so the balance agent is co-partitioned
            "partitioner": "murmur2_random",
        })

    def append(self, records: list[dict[str, Any]]) -> None:
        failures: list[str] = []

        def delivered(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                failures.append(error.str())

        with self._lock:  # one request's events are acknowledged before the next is sent
            try:
                for record in records:
                    body = {k: v for k, v in record.items() if k != "type"}
                    value = self._codec.encode(ACCOUNT_EVENT_SCHEMAS[record["type"]], body,
                                               topic=self.topic)
                    self._producer.produce(self.topic, key=record["bot_id"].encode(),
                                           value=value, on_delivery=delivered)
                left = self._producer.flush(self._timeout_s)
            except (KafkaException, BufferError) as error:
                raise EventsUnavailable(f"account events not sent: {error}") from None
        if left or failures:
            raise EventsUnavailable("account events not acknowledged by Kafka: "
                                    + ("; ".join(failures) or f"{left} pending"))

    def close(self) -> None:
        self._producer.flush(self._timeout_s)
