"""``streams.handlers``: decoding inputs, the sessionizer's and the alert agent's work for one
message, without Faust. Outgoing messages are read back with the codec, as the sink would."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from botbill.billing_rules.events import (
    AlertDelivered,
    ConversationEvent,
    ConversationKey,
    Event,
    event_from_mapping,
)
from botbill.billing_rules.exceptions import BotbillError
from botbill.billing_rules.sessions import SessionChange, UsageSession
from botbill.billing_rules.settings import TimeoutPolicy
from botbill.billing_rules.visits import bill_conversation
from botbill.schemas.codec import AvroCodec
from botbill.streams import topic_names as topics
from botbill.streams.handlers import (
    NO_CLOSED_VISIT,
    OCCURRED_AT_HEADER,
    SNAPSHOT_MARKER_INDEX,
    AlertHandler,
    ConversationHandler,
    InvalidMessage,
    Outgoing,
    StoredState,
    dead_letter,
    decode_input,
)
from botbill.streams.metrics import Metrics
from botbill.streams.settings import WorkerSettings
from botbill.streams.traffic import generate_events
from botbill.streams.watermark import NO_WATERMARK
from tests.streams.conftest import (
    MINUTE,
    T0,
    TOPIC_OF,
    EventFactory,
    encode_event,
    replacing_merge,
    sample,
)

T = 15 * MINUTE  # default inactivity timeout
GRACE = 5 * MINUTE  # default grace


# --- reading what the handlers send ------------------------------------------------------

def _usage_records(codec: AvroCodec, outgoing: Iterable[Outgoing]) -> list[dict[str, Any]]:
    records = []
    for message in outgoing:
        if message.topic != topics.USAGE_SESSIONS:
            continue
        name, record = codec.decode(message.value)
        assert name == "UsageSessionChange"
        records.append(record)
    return records


def usage_changes(codec: AvroCodec, outgoing: Iterable[Outgoing]) -> list[SessionChange]:
    """The session changes among the ``usage-sessions`` messages (snapshot markers apart)."""
    changes = []
    for record in _usage_records(codec, outgoing):
        if record["session_index"] == SNAPSHOT_MARKER_INDEX:
            continue
        revision, voided = record.pop("revision"), record.pop("voided")
        changes.append(SessionChange(UsageSession(**record), revision, voided))
    return changes


def snapshot_markers(codec: AvroCodec, outgoing: Iterable[Outgoing]) -> list[dict[str, Any]]:
    return [r for r in _usage_records(codec, outgoing)
            if r["session_index"] == SNAPSHOT_MARKER_INDEX]


def only(outgoing: list[Outgoing], topic: str) -> list[Outgoing]:
    return [message for message in outgoing if message.topic == topic]


@dataclass
class Sessionizer:
    """The sessionizer agent's table and output, around a real :class:`ConversationHandler`."""

    handler: ConversationHandler
    states: dict[ConversationKey, StoredState] = field(default_factory=dict)
    sent: list[Outgoing] = field(default_factory=list)

    def feed(self, event: ConversationEvent, watermark: int = NO_WATERMARK) -> list[Outgoing]:
        new_state, outgoing = self.handler.handle(event, self.states.get(event.key), watermark,
                                                  TOPIC_OF[event.type])
        if new_state is not None:
            self.states[event.key] = new_state
        self.sent.extend(outgoing)
        return outgoing

    def sweep(self, watermark: int) -> None:
        for key, state in list(self.states.items()):
            if self.handler.deadline(state, key[1]) >= watermark:
                continue
            delete, new_state = self.handler.sweep(state, key[1], watermark)
            if delete:
                del self.states[key]
            elif new_state is not None:
                self.states[key] = new_state


@pytest.fixture
def make_sessionizer(codec: AvroCodec, metrics: Metrics,
                     settings: WorkerSettings) -> Callable[..., Sessionizer]:
    def make(worker_settings: WorkerSettings | None = None) -> Sessionizer:
        return Sessionizer(ConversationHandler(codec, worker_settings or settings, metrics))
    return make


@pytest.fixture
def sessionizer(make_sessionizer: Callable[..., Sessionizer]) -> Sessionizer:
    return make_sessionizer()


def billed_by_stream(codec: AvroCodec, sent: list[Outgoing]) -> list[UsageSession]:
    return replacing_merge(usage_changes(codec, sent))


def billed_by_batch(events: Iterable[Event], timeout_ms: int = T) -> list[UsageSession]:
    groups: dict[ConversationKey, list[ConversationEvent]] = {}
    for event in events:
        if not isinstance(event, AlertDelivered):
            groups.setdefault(event.key, []).append(event)
    sessions = [s for key, group in groups.items()
                for s in bill_conversation(key, group, timeout_ms)]
    return sorted(sessions, key=lambda s: s.identity)


def generated(seed: int, count: int = 1500) -> list[Event]:
    return [event_from_mapping(record) for record in generate_events(
        seed=seed, start_ms=T0, count=count, span_ms=6 * 3600 * 1000)]


# --- decode_input ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["turn", "handoff", "alert"])
def test_a_valid_record_of_each_input_topic_decodes_to_its_event(
        kind: str, events: EventFactory, codec: AvroCodec) -> None:
    makers: dict[str, Callable[[], Event]] = {
        "turn": lambda: events.turn(3, "BOT", is_test=True),
        "handoff": lambda: events.handoff(4, "STARTED"),
        "alert": lambda: events.alert(5)}
    event = makers[kind]()
    assert decode_input(codec, TOPIC_OF[event.type], encode_event(codec, event)) == event


def test_a_record_of_another_topic_is_invalid_and_named(events: EventFactory,
                                                        codec: AvroCodec) -> None:
    alert = encode_event(codec, events.alert(1))
    with pytest.raises(InvalidMessage, match=r"ConversationTurn.*AlertDelivered"):
        decode_input(codec, topics.CONVERSATION_TURNS, alert)
    turn = encode_event(codec, events.turn(1))
    with pytest.raises(InvalidMessage, match=r"AgentHandoff.*ConversationTurn"):
        decode_input(codec, topics.AGENT_HANDOFFS, turn)


@pytest.mark.parametrize(("value", "reason"), [
    (b"not avro at all", "unknown framing"),
    (b"\xc3\x01\x00\x01\x02\x03\x04\x05\x06\x07rest", "unknown writer schema fingerprint"),
    (None, "empty"),
    (b"", "empty"),
])
def test_garbage_is_invalid_with_a_reason(value: bytes | None, reason: str,
                                          codec: AvroCodec) -> None:
    with pytest.raises(InvalidMessage, match=reason) as raised:
        decode_input(codec, topics.CONVERSATION_TURNS, value)
    assert isinstance(raised.value, BotbillError)


def test_a_truncated_record_is_invalid(events: EventFactory, codec: AvroCodec) -> None:
    value = encode_event(codec, events.turn(1))
    with pytest.raises(InvalidMessage, match=r"undecodable|bytes left"):
        decode_input(codec, topics.CONVERSATION_TURNS, value[:-4])


def test_a_record_the_rules_refuse_is_invalid_naming_the_field(events: EventFactory,
                                                               codec: AvroCodec) -> None:
    value = encode_event(codec, replace(events.turn(1), event_id=""))  # Avro takes "" fine
    with pytest.raises(InvalidMessage, match="event_id"):
        decode_input(codec, topics.CONVERSATION_TURNS, value)


def test_a_dead_letter_keeps_the_message_byte_for_byte(codec: AvroCodec) -> None:
    out = dead_letter(codec, topics.AGENT_HANDOFFS, 3, 41, b"conv-9", b"\x00garbage",
                      "unknown framing", 1_700_000_000_000)
    assert out.topic == topics.DEAD_LETTERS
    assert out.key == f"{topics.AGENT_HANDOFFS}/3/41".encode()
    assert codec.decode(out.value) == ("DeadLetter", {
        "source_topic": topics.AGENT_HANDOFFS, "source_partition": 3, "source_offset": 41,
        "key": b"conv-9", "value": b"\x00garbage", "error": "unknown framing",
        "failed_at": 1_700_000_000_000})


# --- ConversationHandler -----------------------------------------------------------------

def test_a_session_opens_at_once_keyed_by_bot_with_its_event_time(
        sessionizer: Sessionizer, events: EventFactory, codec: AvroCodec) -> None:
    turn = events.turn(0, "USER")
    out = sessionizer.feed(turn)
    assert [m.topic for m in out] == [topics.USAGE_SESSIONS] * 2  # the session, the marker
    assert {m.key for m in out} == {b"bot-a"}  # one partition: the marker comes after
    assert dict(out[0].headers) == {OCCURRED_AT_HEADER: str(turn.occurred_at).encode()}
    [change] = usage_changes(codec, out)
    assert not change.voided and change.revision >= 1
    [marker] = snapshot_markers(codec, out[1:])
    assert (marker["conversation_id"], marker["revision"]) == ("c1", change.revision)
    assert marker["conversation_session_start"] == NO_CLOSED_VISIT
    assert change.session == UsageSession("acct-1", "bot-a", "c1", "web", "u-1", T0, T0, 1,
                                          T0, T0)


def test_a_redelivery_resends_the_snapshot_and_changes_nothing(
        sessionizer: Sessionizer, events: EventFactory, codec: AvroCodec,
        metrics: Metrics) -> None:
    first, second = events.turn(0, "USER"), events.turn(20, "BOT")
    sessionizer.feed(first)
    sessionizer.feed(second)
    before = dict(sessionizer.states)
    out = sessionizer.feed(first)
    resent = usage_changes(codec, out)
    assert sessionizer.states == before
    assert sorted((c.session for c in resent), key=lambda s: s.identity) == \
        billed_by_batch([first, second])
    [marker] = snapshot_markers(codec, out)
    assert marker["revision"] == resent[0].revision
    earlier = usage_changes(codec, sessionizer.sent[:-len(out)])
    # the snapshot is the current truth: it must not lose to anything sent before it
    assert min(c.revision for c in resent) >= max(c.revision for c in earlier)
    assert sample(metrics, "botbill_duplicate_events", topic=topics.CONVERSATION_TURNS) == 1
    assert billed_by_stream(codec, sessionizer.sent) == billed_by_batch([first, second])


def test_test_traffic_is_dropped_without_output(sessionizer: Sessionizer,
                                                events: EventFactory,
                                                metrics: Metrics) -> None:
    assert sessionizer.feed(events.turn(0, "USER", is_test=True)) == []
    assert sessionizer.states == {}
    assert sample(metrics, "botbill_test_events", topic=topics.CONVERSATION_TURNS) == 1
    assert sample(metrics, "botbill_sessions_opened") == 0


def test_a_merging_turn_voids_the_second_visit_and_counts_it(
        sessionizer: Sessionizer, events: EventFactory, codec: AvroCodec,
        metrics: Metrics) -> None:
    """USER at 0 and at 20 min are two visits; a turn at 10 min (arriving last) merges them
    into one visit of 20 min of bot time: two sessions, the old second visit's one voided."""
    visits = [events.turn(0, "USER"), events.turn(20, "USER")]
    for turn in visits:
        sessionizer.feed(turn)
    assert sample(metrics, "botbill_sessions_opened") == 2
    merging = events.turn(10, "BOT")
    changes = usage_changes(codec, sessionizer.feed(merging))
    voided = [c.session for c in changes if c.voided]
    assert [(s.conversation_session_start, s.session_index) for s in voided] == \
        [(T0 + 20 * MINUTE, 1)]
    assert len(changes) - len(voided) == 2  # the first session's end moved; a second one
    assert sample(metrics, "botbill_sessions_voided") == 1
    assert sample(metrics, "botbill_sessions_opened") == 4
    assert billed_by_stream(codec, sessionizer.sent) == billed_by_batch([*visits, merging])


def test_an_event_for_a_closed_visit_is_late_with_its_payload(
        sessionizer: Sessionizer, events: EventFactory, codec: AvroCodec,
        metrics: Metrics) -> None:
    sessionizer.feed(events.turn(0, "USER"))
    sessionizer.feed(events.turn(1, "BOT"))
    stored = dict(sessionizer.states)
    late = events.handoff(2, "STARTED")
    watermark = T0 + 1 * MINUTE + T + GRACE + 1  # the visit ending at 1 min is closed
    out = sessionizer.feed(late, watermark)
    assert [m.topic for m in out] == [topics.LATE_EVENTS]
    assert out[0].key == late.event_id.encode()
    name, record = codec.decode(out[0].value)
    assert name == "LateEvent"
    assert record["reason"]
    assert (record["event_type"], record["event_id"], record["conversation_id"],
            record["occurred_at"], record["watermark"]) == \
        ("agent_handoff", late.event_id, "c1", late.occurred_at, watermark)
    assert event_from_mapping(orjson.loads(record["payload"])) == late
    assert sessionizer.states == stored  # not applied
    assert sample(metrics, "botbill_late_events", topic=topics.AGENT_HANDOFFS) == 1


def test_a_new_visit_already_past_closing_is_late(sessionizer: Sessionizer,
                                                  events: EventFactory, codec: AvroCodec) -> None:
    turn = events.turn(0, "USER")
    out = sessionizer.feed(turn, watermark=turn.occurred_at + T + GRACE + 1)
    assert [m.topic for m in out] == [topics.LATE_EVENTS]
    assert codec.decode(out[0].value)[1]["reason"]
    assert sessionizer.states == {}


def test_a_visit_is_open_until_event_time_passes_end_plus_timeout_plus_grace(
        sessionizer: Sessionizer, events: EventFactory) -> None:
    first = events.turn(0, "USER")
    sessionizer.feed(first)
    edge = first.occurred_at + T + GRACE  # the open visit ends at its only event
    in_time = sessionizer.feed(events.turn(1, "USER"), watermark=edge)
    assert {m.topic for m in in_time} == {topics.USAGE_SESSIONS}
    too_late = sessionizer.feed(events.turn(1, "USER"), watermark=edge + MINUTE + 1)
    assert [m.topic for m in too_late] == [topics.LATE_EVENTS]


def test_sweep_closes_after_the_deadline_then_forgets_the_conversation(
        sessionizer: Sessionizer, events: EventFactory) -> None:
    handler = sessionizer.handler
    sessionizer.feed(events.turn(0, "USER"))
    last = events.turn(4, "BOT")
    sessionizer.feed(last)
    [state] = sessionizer.states.values()
    deadline = handler.deadline(state, "bot-a")
    assert deadline == last.occurred_at + T + GRACE
    assert handler.sweep(state, "bot-a", deadline) == (False, None)  # not passed yet

    delete, closed = handler.sweep(state, "bot-a", deadline + 1)
    assert not delete and closed is not None and closed != state
    late = events.turn(5, "USER")  # within T of the closed visit
    new_state, out = handler.handle(late, closed, deadline + 1, topics.CONVERSATION_TURNS)
    assert new_state is None and [m.topic for m in out] == [topics.LATE_EVENTS]
    # a redelivery of a closed visit's event is still a duplicate, not a late event
    again, out = handler.handle(last, closed, deadline + 1, topics.CONVERSATION_TURNS)
    assert again is None and only(out, topics.LATE_EVENTS) == []

    forget = handler.deadline(closed, "bot-a")
    assert forget == last.occurred_at + 2 * T + GRACE  # closed_end + 2T + grace
    assert handler.sweep(closed, "bot-a", forget) == (False, None)
    assert handler.sweep(closed, "bot-a", forget + 1) == (True, None)
    # forgotten: an event that would have touched the closed visit is still refused
    _, out = handler.handle(events.turn(5, "USER"), None, forget + 1,
                            topics.CONVERSATION_TURNS)
    assert [m.topic for m in out] == [topics.LATE_EVENTS]


def test_deadlines_use_the_bots_own_timeout(make_sessionizer: Callable[..., Sessionizer],
                                            events: EventFactory) -> None:
    slow = WorkerSettings(policy=TimeoutPolicy(per_bot={"bot-slow": 2 * 3600 * 1000}))
    sessionizer = make_sessionizer(slow)
    turn = events.turn(0, "USER", bot="bot-slow")
    sessionizer.feed(turn)
    [state] = sessionizer.states.values()
    assert sessionizer.handler.deadline(state, "bot-slow") == \
        turn.occurred_at + 2 * 3600 * 1000 + GRACE
    # 30 min of silence splits visits for the default T, not for this bot's
    sessionizer.feed(events.turn(30, "USER", bot="bot-slow"))
    [state] = sessionizer.states.values()
    assert sessionizer.handler.sweep(state, "bot-slow", T0 + 30 * MINUTE + T + GRACE + 1) == \
        (False, None)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stream_output_read_with_dedup_equals_batch_billing(
        seed: int, sessionizer: Sessionizer, codec: AvroCodec) -> None:
    """Any order, duplicates and test traffic included, nothing late: the rows as ClickHouse
    reads them equal ``bill_conversation`` over the same events."""
    stream = [e for e in generated(seed) if not isinstance(e, AlertDelivered)]
    random.Random(seed).shuffle(stream)
    stream += random.Random(-seed).sample(stream, 40)  # redeliveries, out of order too
    for event in stream:
        sessionizer.feed(event)
    assert billed_by_stream(codec, sessionizer.sent) == billed_by_batch(stream)


def test_with_event_time_and_sweeps_what_was_applied_is_billed_as_the_batch_bills_it(
        sessionizer: Sessionizer, codec: AvroCodec, metrics: Metrics) -> None:
    """Send order, a watermark that follows the traffic, sweeps along the way, and a few
    events held back until the end (late): the rows read with dedup equal
    ``bill_conversation`` over every delivery that was not refused as late."""
    stream = [e for e in generated(11, count=3000) if not isinstance(e, AlertDelivered)]
    held = set(random.Random(11).sample(range(len(stream)), 25))
    stream = [e for i, e in enumerate(stream) if i not in held] + [stream[i] for i in held]
    watermark = NO_WATERMARK
    applied: list[ConversationEvent] = []
    late = 0
    for number, event in enumerate(stream):
        watermark = max(watermark, event.occurred_at - 30_000)
        out = sessionizer.feed(event, watermark)
        if only(out, topics.LATE_EVENTS):
            late += 1
        else:
            applied.append(event)
        if number % 50 == 0:
            sessionizer.sweep(watermark)
    assert 0 < late <= len(held)
    sessionizer.sweep(watermark + 10 * 24 * 3600 * 1000)
    assert sessionizer.states == {}  # every conversation closed and forgotten
    assert billed_by_stream(codec, sessionizer.sent) == billed_by_batch(applied)
    assert sample(metrics, "botbill_late_events", topic=topics.CONVERSATION_TURNS) + \
        sample(metrics, "botbill_late_events", topic=topics.AGENT_HANDOFFS) == late


# --- AlertHandler ------------------------------------------------------------------------

@pytest.fixture
def alerts(codec: AvroCodec, settings: WorkerSettings, metrics: Metrics) -> AlertHandler:
    return AlertHandler(codec, settings, metrics)


def test_a_new_alert_is_billed_once(alerts: AlertHandler, events: EventFactory,
                                    codec: AvroCodec, metrics: Metrics) -> None:
    alert = events.alert(3)
    remember, out = alerts.handle(alert, seen=False, watermark=alert.occurred_at)
    assert remember
    [message] = out
    assert (message.topic, message.key) == (topics.ALERT_SESSIONS, b"bot-a")
    assert dict(message.headers) == {OCCURRED_AT_HEADER: str(alert.occurred_at).encode()}
    assert codec.decode(message.value) == ("AlertSession", {
        "account_id": "acct-1", "bot_id": "bot-a", "event_id": alert.event_id,
        "delivered_at": T0 + 3 * MINUTE})
    assert sample(metrics, "botbill_alert_sessions") == 1


def test_a_seen_alert_is_a_duplicate(alerts: AlertHandler, events: EventFactory,
                                     metrics: Metrics) -> None:
    assert alerts.handle(events.alert(3), seen=True, watermark=NO_WATERMARK) == (False, [])
    assert sample(metrics, "botbill_duplicate_events", topic=topics.ALERTS_DELIVERED) == 1
    assert sample(metrics, "botbill_alert_sessions") == 0


def test_a_test_alert_is_neither_billed_nor_remembered(alerts: AlertHandler,
                                                       events: EventFactory,
                                                       metrics: Metrics) -> None:
    assert alerts.handle(events.alert(3, is_test=True), seen=False,
                         watermark=NO_WATERMARK) == (False, [])
    assert sample(metrics, "botbill_test_events", topic=topics.ALERTS_DELIVERED) == 1


def test_an_alert_older_than_the_dedup_window_is_late(alerts: AlertHandler,
                                                      events: EventFactory, codec: AvroCodec,
                                                      settings: WorkerSettings,
                                                      metrics: Metrics) -> None:
    alert = events.alert(0)
    edge = alert.occurred_at + settings.alert_dedup_retention_ms
    assert alerts.handle(alert, seen=False, watermark=edge)[0]  # still inside the window
    remember, out = alerts.handle(alert, seen=False, watermark=edge + 1)
    assert not remember
    [message] = out
    assert (message.topic, message.key) == (topics.LATE_EVENTS, alert.event_id.encode())
    name, record = codec.decode(message.value)
    assert name == "LateEvent"
    assert record["reason"] and record["conversation_id"] is None
    assert (record["event_type"], record["watermark"]) == ("alert_delivered", edge + 1)
    assert event_from_mapping(orjson.loads(record["payload"])) == alert
    assert sample(metrics, "botbill_late_events", topic=topics.ALERTS_DELIVERED) == 1


def test_an_occurred_at_out_of_range_is_invalid_not_a_crash(events: EventFactory,
                                                            codec: AvroCodec) -> None:
    """Avro takes any long; the rules take years 2000..2200 (a message for the dead
    letters, naming the field, never an internal error further down)."""
    value = encode_event(codec, replace(events.turn(1), occurred_at=-10**14))
    with pytest.raises(InvalidMessage, match="'occurred_at' must be between"):
        decode_input(codec, topics.CONVERSATION_TURNS, value)


# --- crash-exactness: a lost history is outranked -------------------------------------------

def _stored_by_sink(codec: AvroCodec, sent: list[Outgoing]) -> list[UsageSession]:
    """What the export shows after the sink wrote ``sent`` (snapshot rule included)."""
    from botbill.sinks.store import InMemoryStore
    from botbill.streams.sink import build_batch

    messages = [SimpleNamespace(topic=m.topic, partition=0, offset=i, key=m.key, value=m.value,
                                headers=m.headers) for i, m in enumerate(sent)]
    store = InMemoryStore()
    store.write_batch(build_batch(codec, messages)[0])
    return sorted((s for s in store.billed() if isinstance(s, UsageSession)),
                  key=lambda s: s.identity)


@pytest.mark.parametrize("seed", range(12))
def test_a_crash_that_loses_state_and_rereads_in_another_order_bills_as_the_batch(
        seed: int, make_sessionizer: Callable[..., Sessionizer], codec: AvroCodec) -> None:
    """SIGKILL after the output of events ``[:cut]`` went out but before their state was
    stored: the worker restarts from the state after ``[:saved]`` and re-reads the rest, the
    two input topics interleaved differently. Whatever the lost history sent must not stay
    billed: the export equals the batch biller's answer."""
    rng = random.Random(seed)
    all_events = [e for e in generated(seed, count=400) if not isinstance(e, AlertDelivered)]
    saved = rng.randrange(0, len(all_events) // 2)
    cut = rng.randrange(saved, len(all_events))
    lost = make_sessionizer()
    for event in all_events[:cut]:
        lost.feed(event)
    recovered = make_sessionizer()
    for event in all_events[:saved]:
        recovered.feed(event)
    recovered.sent.clear()  # its output is the lost history's, already in `lost.sent`
    rest = all_events[saved:]
    turns = [e for e in rest if e.type == "conversation_turn"]
    handoffs = [e for e in rest if e.type != "conversation_turn"]
    while turns or handoffs:  # another interleaving of the two topics, each in its order
        source = turns if (turns and (not handoffs or rng.random() < 0.5)) else handoffs
        recovered.feed(source.pop(0))
    assert _stored_by_sink(codec, lost.sent + recovered.sent) == billed_by_batch(all_events)


def test_a_session_only_the_lost_history_had_is_superseded(
        make_sessionizer: Callable[..., Sessionizer], events: EventFactory,
        codec: AvroCodec) -> None:
    """Turns at 0 and 20 min are two visits; a handoff at 10 min (other topic) merges them.
    The lost history read the turn at 20 before the handoff and billed a visit at 20 min;
    after the crash the handoff is read first, so the recovered state never knows that
    visit and never voids it: only the newer snapshot takes it out of the export."""
    first, merging, second = (events.turn(0, "USER"), events.handoff(10, "STARTED"),
                              events.turn(20, "USER"))
    lost = make_sessionizer()
    for event in (first, second):
        lost.feed(event)
    orphan = [c.session for c in usage_changes(codec, lost.sent)
              if c.session.conversation_session_start == second.occurred_at]
    assert orphan  # the lost history billed a visit at 20 min
    recovered = make_sessionizer()
    recovered.feed(first)
    recovered.sent.clear()
    for event in (merging, second):
        recovered.feed(event)
    assert not any(c.session.conversation_session_start == second.occurred_at
                   for c in usage_changes(codec, recovered.sent))  # never voided by it
    stored = _stored_by_sink(codec, lost.sent + recovered.sent)
    assert stored == billed_by_batch([first, merging, second])
    assert orphan[0] not in stored
