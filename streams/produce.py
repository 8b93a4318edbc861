"""``botbill produce``: send events to the input topics.

``--from FILE...`` sends JSON Lines / Avro container files in file order (backfills, tests);
account events (MONEY_RULES §1) in the same JSON Lines files go to ``account-events``, keyed
by ``bot_id``, after the Avro shape check (a record of the wrong shape is skipped with its
line, field and reason). Rules that need more than the record's types (an order under the
minimum, a second settlement, an unregistered bot) are the balance agent's: it refuses such
an event to the dead letters, so it is sent as it is;
``--rate N --duration S`` generates realistic traffic (:mod:`streams.traffic`: usage events,
and the bots' registrations and a few account events sent to ``account-events``) at about N
events per second, optionally saving what it sent (``--save``) so ``replay`` can bill the
same events. Sending is idempotent downstream: the same events twice bill once.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from botbill.billing_rules.events import AlertDelivered, Event, event_from_mapping, event_to_mapping
from botbill.billing_rules.exceptions import BotbillError, InvalidEvent
from botbill.billing_rules.timeutil import parse_duration_ms, parse_rfc3339_ms
from botbill.schemas import ACCOUNT_EVENT_SCHEMAS, SchemaError, event_schema_name
from botbill.schemas.codec import AvroCodec

from . import topic_names as topics
from .exceptions import DeliveryFailed, StreamError
from .replay import BadRecord, read_events
from .traffic import generate_events

__all__ = ["EventProducer", "account_record", "main"]

_TOPIC_OF = {"conversation_turn": topics.CONVERSATION_TURNS,
             "agent_handoff": topics.AGENT_HANDOFFS,
             "alert_delivered": topics.ALERTS_DELIVERED}


class EventProducer:
    """Encodes events with the project's codec and sends them, keyed for co-partitioning
    (conversation events by ``conversation_id``, alerts by ``bot_id``)."""

    def __init__(self, bootstrap: str, registry_url: str | None = None) -> None:
        self.codec = AvroCodec(registry_url)
        self.failures: list[tuple[str, str]] = []
        self.sent = 0
        self._producer = Producer({
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
            "compression.type": "lz4",
            "message.timeout.ms": 60_000,
            # Java's murmur2, as Faust's producer: a bot_id key lands on the same partition
            # of account-events as of usage-sessions, so the balance agent is co-partitioned
            "partitioner": "murmur2_random",
        })

    def send(self, event: Event) -> None:
        record = event_to_mapping(event)
        record.pop("type")
        topic = _TOPIC_OF[event.type]
        value = self.codec.encode(event_schema_name(event.type), record, topic=topic)
        key = event.bot_id if isinstance(event, AlertDelivered) else event.conversation_id
        self.send_raw(topic, key.encode(), value, event.event_id)

    def send_account(self, record: dict[str, Any]) -> None:
        """Send one account event (a checked :func:`account_record`) to ``account-events``,
        keyed by ``bot_id``, so one bot's events stay in order on one partition."""
        schema = ACCOUNT_EVENT_SCHEMAS[record["type"]]
        body = {name: value for name, value in record.items() if name != "type"}
        value = self.codec.encode(schema, body, topic=topics.ACCOUNT_EVENTS)
        self.send_raw(topics.ACCOUNT_EVENTS, record["bot_id"].encode(), value,
                      record["event_id"])

    def send_raw(self, topic: str, key: bytes | None, value: bytes, label: str = "") -> None:
        """Send bytes as they are (also used by tests to send malformed messages)."""

        def delivered(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                self.failures.append((label or f"{topic} message", error.str()))

        while True:
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=delivered)
                break
            except BufferError:
                self._producer.poll(0.1)  # local queue full: let deliveries drain
            except KafkaException as error:
                raise StreamError(f"cannot send to {topic!r}: {error}") from None
        self.sent += 1
        self._producer.poll(0)

    def flush(self, timeout: float = 60.0) -> None:
        """Wait for every message; raises :class:`DeliveryFailed` if any was refused."""
        remaining = self._producer.flush(timeout)
        if remaining:
            self.failures.append((f"{remaining} message(s)", "not delivered before timeout"))
        if self.failures:
            raise DeliveryFailed(self.failures)


def account_record(raw: Any) -> dict[str, Any]:
    """A JSON Lines account event -> the record sent on Kafka (times as epoch ms). The shape
    is checked when it is encoded (:class:`SchemaError` naming the field and reason)."""
    if not isinstance(raw, dict):
        raise InvalidEvent("not a JSON object")
    record = dict(raw)
    for name in ("occurred_at", "expires_at"):
        if isinstance(record.get(name), str):
            record[name] = parse_rfc3339_ms(record[name])
    return record


def send_files(producer: EventProducer, paths: list[str], *, errors: Any = sys.stderr) -> int:
    """Send every valid event of ``paths`` in file order; report bad records. Returns the
    number of bad records."""
    bad = 0
    for path in paths:
        stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        with stream:
            head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""
            items = (read_events(path, stream) if head == b"Obj\x01"
                     else _json_lines(path, stream))
            for where, item in items:
                if isinstance(item, BadRecord):
                    bad += 1
                    print(f"botbill produce: skipped {item}", file=errors)
                elif isinstance(item, dict):
                    try:
                        producer.send_account(item)
                    except SchemaError as error:
                        bad += 1
                        print(f"botbill produce: skipped {where}: {error}", file=errors)
                else:
                    producer.send(item)
    return bad


def _json_lines(path: str, stream: Any) -> Iterator[tuple[str, Event | dict[str, Any] | BadRecord]]:
    """Usage events (as ``event_from_mapping`` builds them) and account events (records)."""
    name = "<stdin>" if path == "-" else path
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            raw = orjson.loads(line)
            if isinstance(raw, dict) and raw.get("type") in ACCOUNT_EVENT_SCHEMAS:
                yield where, account_record(raw)
            else:
                yield where, event_from_mapping(raw)
        except orjson.JSONDecodeError as error:
            yield where, BadRecord(where, f"not JSON: {error}")
        except (BotbillError, ValueError) as error:
            yield where, BadRecord(where, str(error))


def paced(records: Iterable[dict[str, Any]], start_ms: int, speedup: float,
          clock: Any = time.monotonic, sleep: Any = time.sleep) -> Iterator[dict[str, Any]]:
    """Release each record when the wall clock reaches its event time / ``speedup``."""
    began = clock()
    for record in records:
        due = began + (record["occurred_at"] - start_ms) / 1000 / speedup
        wait = due - clock()
        if wait > 0:
            sleep(wait)
        yield record


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="botbill produce",
                                     description="Send events to botbill's input topics.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="files", nargs="+", metavar="FILE",
                        help="JSON Lines or Avro container files ('-': stdin), in file order")
    source.add_argument("--rate", type=float, help="generate about N events per second")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds of generated traffic (default 10)")
    parser.add_argument("--speedup", type=float, default=1.0,
                        help="event time runs this many times faster than the wall clock")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", metavar="T",
                        help="event time of the generated traffic's start (RFC 3339; default: "
                             "so that it ends when sending ends)")
    parser.add_argument("--account-prefix", default="",
                        help="prefix of the generated account ids (tell runs apart)")
    parser.add_argument("--save", help="also write the generated events here (JSON Lines)")
    parser.add_argument("--timeout", default="15m",
                        help="inactivity timeout the generator plays with (idle gaps)")
    parser.add_argument("--bootstrap",
                        default=os.environ.get("BOTBILL_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--registry", default=os.environ.get("BOTBILL_SCHEMA_REGISTRY_URL"))
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    producer = EventProducer(args.bootstrap, args.registry)
    bad = 0
    try:
        if args.files:
            bad = send_files(producer, args.files)
        else:
            span_ms = int(args.duration * 1000 * args.speedup)
            # event time ends about when sending ends: nothing is stamped in the future
            start_ms = (parse_rfc3339_ms(args.start) if args.start else
                        int(time.time() * 1000) - span_ms + int(args.duration * 1000))
            count = max(1, int(args.rate * args.duration))
            records = generate_events(seed=args.seed, start_ms=start_ms, count=count,
                                      span_ms=span_ms,
                                      timeout_ms=parse_duration_ms(args.timeout),
                                      account_prefix=args.account_prefix,
                                      account_events=True)
            save = open(args.save, "wb") if args.save else None  # noqa: SIM115
            try:
                for record in paced(records, start_ms, args.speedup):
                    if save is not None:
                        save.write(orjson.dumps(_as_json_line(record)) + b"\n")
                    if record["type"] in ACCOUNT_EVENT_SCHEMAS:
                        producer.send_account(record)
                    else:
                        producer.send(event_from_mapping(record))
            finally:
                if save is not None:
                    save.close()
        producer.flush()
    except BotbillError as error:
        print(f"botbill produce: {error}", file=sys.stderr)
        return 1
    print(f"botbill produce: sent {producer.sent} message(s)"
          + (f", skipped {bad} bad record(s)" if bad else ""), file=sys.stderr)
    return 1 if bad else 0


def _as_json_line(record: dict[str, Any]) -> dict[str, Any]:
    from botbill.billing_rules.timeutil import format_ms

    return {**record, **{name: format_ms(record[name]) for name in ("occurred_at", "expires_at")
                         if name in record}}
