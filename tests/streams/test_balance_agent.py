"""The balance agent in Faust's in-memory test context (no broker, no ClickHouse): session
changes and account events go in on its channel; what it sends is caught by the fake
producer and what it writes to ClickHouse by a fake writer. Expected values come from the
money engine run over the same inputs as ``replay`` would (``run_books``), never from what
the agent wrote."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from botbill.billing_rules.account_events import account_event_from_mapping
from botbill.billing_rules.catalog import catalog_from_mapping
from botbill.billing_rules.invoices import balance_rows
from botbill.billing_rules.money import Charge, Entitlement, LedgerEntry, Notification, run_books
from botbill.billing_rules.sessions import AlertSession, UsageSession
from botbill.jobs.replay_money import session_charge
from botbill.schemas import ACCOUNT_EVENT_SCHEMAS
from botbill.streams import balance_agent
from botbill.streams import topic_names as topics
from botbill.streams.balance import BalanceHandler, MoneyRows
from botbill.streams.handlers import OCCURRED_AT_HEADER
from tests.billing_rules.money_strategies import TEST_CATALOG
from tests.streams.conftest import T0, sample
from tests.streams.test_agents import BALANCE, Feeder, Worker, make_worker, run

__all__ = ["make_worker"]  # the fixture, shared with test_agents

MIN = 60_000
ACCOUNT, BOT = "acct-1", "bot-a"
CATALOG = catalog_from_mapping(TEST_CATALOG)  # standard: 100 sign-up, 20 a usage session


class FakeWriter:
    batches: ClassVar[list[MoneyRows]] = []

    def __init__(self, url: str) -> None:
        FakeWriter.batches = []

    def write(self, batch: MoneyRows) -> None:
        FakeWriter.batches.append(batch)


@pytest.fixture
def balance_worker(make_worker: Callable[..., Worker], monkeypatch: pytest.MonkeyPatch,
                   tmp_path: Path) -> Worker:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(TEST_CATALOG))
    monkeypatch.setenv("BOTBILL_CATALOG", str(catalog))
    monkeypatch.setattr(balance_agent, "MoneyWriter", FakeWriter)
    return make_worker(idle_seconds=0.0)


def account(kind: str, event_id: str, minute: float, bot: str = BOT, **fields: Any,
            ) -> dict[str, Any]:
    return {"type": kind, "event_id": event_id, "account_id": ACCOUNT, "bot_id": bot,
            "occurred_at": T0 + int(minute * MIN), **fields}


def usage(minute: float, conversation: str, index: int = 1, *, revision: int = 1,
          voided: bool = False) -> UsageSession:
    start = T0 + int(minute * MIN)
    return UsageSession(ACCOUNT, BOT, conversation, "web", "u-1", start, start + MIN, index,
                        start, start + MIN), revision, voided  # type: ignore[return-value]


def encode_account(worker: Worker, record: dict[str, Any]) -> bytes:
    body = {k: v for k, v in record.items() if k != "type"}
    return worker.codec.encode(ACCOUNT_EVENT_SCHEMAS[record["type"]], body,
                               topic=topics.ACCOUNT_EVENTS)


def encode_usage(worker: Worker, change: Any) -> tuple[bytes, list[tuple[str, bytes]]]:
    session, revision, voided = change
    record = {name: getattr(session, name) for name in session.__slots__}
    record.update(revision=revision, voided=voided)
    return (worker.codec.encode("UsageSessionChange", record, topic=topics.USAGE_SESSIONS),
            [(OCCURRED_AT_HEADER, str(session.billing_session_start).encode())])


def feed(worker: Worker, items: list[Any]) -> None:
    """Send ``items`` (account-event dicts, usage changes, alert sessions, raw bytes) in
    order, each waiting for the agent, so that every one is its own batch."""
    async def script(feeder: Feeder) -> None:
        for item in items:
            if isinstance(item, dict):
                await feeder.put(topics.ACCOUNT_EVENTS, encode_account(worker, item),
                                 key=item["bot_id"].encode())
            elif isinstance(item, AlertSession):
                record = {n: getattr(item, n) for n in item.__slots__}
                await feeder.put(topics.ALERT_SESSIONS, worker.codec.encode(
                    "AlertSession", record, topic=topics.ALERT_SESSIONS), key=BOT.encode())
            elif isinstance(item, bytes):
                await feeder.put(topics.ACCOUNT_EVENTS, item, key=BOT.encode())
            else:
                value, headers = encode_usage(worker, item)
                await feeder.put(topics.USAGE_SESSIONS, value, key=BOT.encode(),
                                 headers=headers)
            await feeder.drain()

    run(worker, BALANCE, "balance", script)


def expected(records: list[dict[str, Any]], sessions: list[Any], as_of: int) -> Any:
    """What replay computes from the same inputs (voided sessions left out)."""
    moves: list[Any] = [account_event_from_mapping(r) for r in records]
    moves += [session_charge(s) for s, _, voided in sessions if not voided]
    return run_books(moves, as_of, CATALOG)


def ledger_view(worker: Worker) -> dict[str, dict[str, Any]]:
    """The wallet-ledger topic read as a consumer would: postings minus cancellations."""
    view: dict[str, dict[str, Any]] = {}
    for record in worker.decoded(topics.WALLET_LEDGER):
        if record["reverses"]:
            del view[record["reverses"]]
        else:
            view[record["entry_id"]] = record
    return view


def test_the_agent_equals_replay_and_stops_a_bot_that_ran_dry(balance_worker: Worker) -> None:
    worker = balance_worker
    register = account("bot_registered", "reg", 0, plan_id="standard", owner_user_id="o")
    small = account("order_placed", "small", 1, order_id="o1", amount_cents=50,
                    payment_method="card")  # under the 10 000 minimum: rejected
    stranger = account("owner_changed", "x1", 2, bot="bot-z", owner_user_id="o")
    sessions = [usage(5, "c1"), usage(10, "c2"), usage(12, "c3"), usage(15, "c4"),
                usage(20, "c6")]
    voided = usage(10, "c2", revision=2, voided=True)
    last = usage(30, "c5")
    later = account("owner_changed", "own", 24 * 60, owner_user_id="o2")
    feed(worker, [register, small, stranger, *sessions, register, voided, last,
                  b"\x07garbage", later])

    records = [register, small, stranger, later]
    all_sessions = [*sessions[:1], voided, *sessions[2:], last]
    as_of = later["occurred_at"]
    books, outputs = expected(records, all_sessions, as_of)

    # the ledger on the topic equals replay's, a voided session's debit reversed
    ledger = {e.entry_id: e for e in outputs if isinstance(e, LedgerEntry)
              and e.bot_id == BOT}
    view = ledger_view(worker)
    assert {k: (v["kind"], v["amount_cents"], v["at"]) for k, v in view.items()} == {
        k: (e.kind, e.amount_cents, e.at) for k, e in ledger.items()}
    reversed_ids = [r["reverses"] for r in worker.decoded(topics.WALLET_LEDGER)
                    if r["reverses"]]
    assert reversed_ids == [f"{ACCOUNT}:{BOT}:debit:usage/c2/{T0 + 10 * MIN}/1:1"]

    # the bot ran dry: the last entitlement stops it, as the engine says
    final_ent = [o for o in outputs if isinstance(o, Entitlement) and o.bot_id == BOT][-1]
    entitlements = worker.decoded(topics.BOT_ENTITLEMENTS)
    assert {s.key for s in worker.sent(topics.BOT_ENTITLEMENTS)} == {BOT.encode()}
    assert (entitlements[-1]["allowed"], entitlements[-1]["status"],
            entitlements[-1]["since"]) == (final_ent.allowed, final_ent.status,
                                           final_ent.since)
    assert final_ent.allowed is False and "add funds" in entitlements[-1]["reason"]

    # notifications: exactly the engine's, each once
    notes = [r["notification_id"] for r in worker.decoded(topics.NOTIFICATIONS)]
    assert sorted(notes) == sorted(o.notification_id for o in outputs
                                   if isinstance(o, Notification) and o.bot_id == BOT)
    assert len(notes) == len(set(notes))

    # ClickHouse: the latest balance row equals replay's row; the ledger rows add up to it
    written = FakeWriter.batches
    [row] = balance_rows({k: b for k, b in books.items() if k == (ACCOUNT, BOT)}, as_of)
    latest = max((b for batch in written for b in batch.balances), key=lambda b: b.version)
    assert latest.to_row() == row
    live = {r.entry_id: r for batch in written for r in batch.ledger}
    assert sum(r.amount_cents for r in live.values()) == row["balance_cents"]
    assert {n.notification_id for batch in written for n in batch.notifications} == set(notes)

    # rule breaks and garbage went to the dead letters with the reason, counted
    dead = {d["source_offset"]: d["error"] for d in worker.decoded(topics.DEAD_LETTERS)}
    assert any("under the minimum" in e for e in dead.values())
    assert any("not registered" in e for e in dead.values())
    assert len(dead) == 3
    assert sample(worker.metrics, "botbill_balance_rejections", kind="rule") == 2
    assert sample(worker.metrics, "botbill_balance_rejections", kind="shape") == 1
    assert sample(worker.metrics, "botbill_balance_messages",
                  topic=topics.USAGE_SESSIONS) == len(sessions) + 2
    # registered; emptied by c6; the void of c2 gives 20 back; c5 empties it again
    assert [e["allowed"] for e in entitlements] == [True, False, True, False]
    assert sample(worker.metrics, "botbill_entitlement_changes", allowed="false") == 2

    # the health check follows the balance agent's progress on its three inputs
    assert worker.progress.subscriptions["balance"] == topics.BALANCE_INPUTS
    assert ("balance", topics.ACCOUNT_EVENTS, 0) in worker.progress.offsets

    # the state is changelogged to the message's partition, compact: inputs, not a book
    changelog = [s for s in worker.producer.sent if s.topic.endswith("balances-changelog")]
    assert changelog and {s.partition for s in changelog} == {0}
    mine = [s for s in changelog if json.loads(s.key) == f"{ACCOUNT}\x1f{BOT}"]
    state = json.loads(mine[-1].value)
    assert set(state) == {"account_id", "bot_id", "events", "sessions", "as_of", "seq",
                          "reported", "orders", "written"}
    assert {k for k, (_, start, _) in state["sessions"].items() if start is not None} == {
        session_charge(s).session_id for s, _, v in all_sessions if not v}
    assert state["sessions"][f"usage/c2/{T0 + 10 * MIN}/1"] == ["usage", None, 2]
    assert set(state["events"]) == {"reg", "small", "own"}


def test_an_auto_reload_order_goes_to_account_events_once(balance_worker: Worker) -> None:
    worker = balance_worker
    register = account("bot_registered", "reg", 0, plan_id="standard", owner_user_id="o")
    reload = account("auto_reload_set", "ar", 1, enabled=True, threshold_cents=90,
                     amount_cents=10_000)
    first, second = usage(5, "c1"), usage(6, "c2")
    feed(worker, [register, reload, first, second, account(
        "owner_changed", "own", 60, owner_user_id="o2")])
    orders = [r for s, r in zip(worker.sent(topics.ACCOUNT_EVENTS),
                                worker.decoded(topics.ACCOUNT_EVENTS), strict=True)
              if s.key == BOT.encode()]
    assert [(o["order_id"], o["payment_method"], o["occurred_at"]) for o in orders] == [
        (f"reload:{BOT}:1", "auto_reload", T0 + 5 * MIN)]
    # read back, it is the same event (R1): nothing new, no rejection
    echo = {"type": "order_placed", **{k: v for k, v in orders[0].items()}}
    before = len(worker.producer.sent)
    feed(worker, [echo])
    assert not worker.sent(topics.DEAD_LETTERS)
    assert [s.topic for s in worker.producer.sent[before:]
            if not s.topic.endswith("changelog")] == []


def test_session_identities_are_replays() -> None:
    """The agent names a session as ``replay`` does, so ledger ids agree."""
    handler = BalanceHandler(None, CATALOG, 0)  # type: ignore[arg-type]
    session, _, _ = usage(5, "c1", 3)
    alert = AlertSession(ACCOUNT, BOT, "al-1", T0)

    class Codec:
        def decode(self, value: Any) -> Any:
            return value

    handler.codec = Codec()  # type: ignore[assignment]
    record = {n: getattr(session, n) for n in session.__slots__}
    decoded = handler.decode(topics.USAGE_SESSIONS, ("UsageSessionChange", {
        **record, "revision": 1, "voided": False}))  # type: ignore[arg-type]
    assert Charge(ACCOUNT, BOT, decoded.start, "usage", decoded.identity) == \
        session_charge(session)  # type: ignore[union-attr]
    decoded = handler.decode(topics.ALERT_SESSIONS, ("AlertSession", {
        n: getattr(alert, n) for n in alert.__slots__}))  # type: ignore[arg-type]
    assert decoded.identity == session_charge(alert).session_id


def test_the_sessionizers_snapshot_marker_is_not_a_session() -> None:
    """``usage-sessions`` also carries the sessionizer's snapshot markers (index 0): the agent
    skips them instead of keeping a void for a session that never existed."""
    from botbill.billing_rules.events import ConversationTurn
    from botbill.schemas.codec import AvroCodec
    from botbill.streams.handlers import ConversationHandler
    from botbill.streams.metrics import Metrics
    from botbill.streams.settings import WorkerSettings

    codec = AvroCodec()
    turn = ConversationTurn("t-1", ACCOUNT, BOT, T0, "c1", "u", "web", "USER")
    _, out = ConversationHandler(codec, WorkerSettings(), Metrics()).handle(
        turn, None, -(2**62), topics.CONVERSATION_TURNS)
    handler = BalanceHandler(codec, CATALOG, 0)
    decoded = [handler.decode(m.topic, m.value, list(m.headers)) for m in out
               if m.topic == topics.USAGE_SESSIONS]
    assert len(decoded) == 2 and decoded[-1] is None  # the session, then the marker
    assert decoded[0] is not None and decoded[0].identity.endswith("/1")


def test_the_worker_refuses_a_bad_catalog_with_the_reason(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from botbill.streams import worker as worker_module

    bad = tmp_path / "catalog.json"
    bad.write_text('{"version": "x", "plans": {}}')
    monkeypatch.setenv("BOTBILL_CATALOG", str(bad))
    monkeypatch.setenv("BOTBILL_HOME", str(tmp_path))
    assert worker_module.main([]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "invalid plan catalog" in err
