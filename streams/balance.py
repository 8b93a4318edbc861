"""The balance agent's work without Faust: decode its inputs, keep each bot's inputs, and
recompute the bot with the money engine (``billing_rules.money.run_books``), returning only
what changed (``billing_rules.money_diff``) as Kafka messages and ClickHouse rows.

A bot's state (one value of the agent's table, JSON-ready) holds its *inputs*, not a book:
account events by ``event_id`` (every distinct version, with its offset, so the engine's R1
choice is replay's), sessions by identity (``[kind, start, revision]``; a voided one is kept
as a tombstone with start ``None``: never charged, and an older revision read later cannot
revive it), and what was written (the diff's memory). A recompute is therefore O(bot
history): simple and always equal to ``replay``; a checkpoint (a ``money_state`` book at a
settled instant, later movements replayed on it) is the next step when histories grow long.

Time: a bot is recomputed as of its partition's event time ``W`` (:class:`PartitionClock`
over the three inputs: one input that is behind holds it back, an idle one stops doing so),
so movements not yet known on every input path are not half-applied. Notifications are sent
only up to ``W - settle`` (the sessionizer may still open a session that starts up to
``T + grace`` before the event that reveals it): later ones wait, so a notification is never
sent for an intermediate state. Entitlements, balances and the ledger follow ``W`` at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from botbill.billing_rules.account_events import (
    AccountEvent,
    OrderPlaced,
    account_event_from_mapping,
    account_event_to_mapping,
)
from botbill.billing_rules.catalog import Catalog
from botbill.billing_rules.exceptions import BotbillError
from botbill.billing_rules.money import BotBook, Charge, Movement, run_books
from botbill.billing_rules.money_diff import (
    MoneyDiff,
    Reversal,
    Written,
    money_diff,
    written_from_dict,
    written_to_dict,
)
from botbill.billing_rules.movements import (
    Entitlement,
    LedgerEntry,
    Notification,
    Output,
    Rejection,
)
from botbill.schemas import ACCOUNT_EVENT_SCHEMAS, SchemaError
from botbill.schemas.codec import AvroCodec
from botbill.sinks import money as rows

from . import topic_names as topics
from .handlers import (
    OCCURRED_AT_HEADER,
    SNAPSHOT_MARKER_INDEX,
    InvalidMessage,
    Outgoing,
    dead_letter,
    now_ms,
)

__all__ = [
    "AccountInput",
    "BalanceHandler",
    "MoneyRows",
    "Recomputed",
    "SessionInput",
    "bot_key",
    "ledger_rows",
]

_ACCOUNT_TYPES = {schema: kind for kind, schema in ACCOUNT_EVENT_SCHEMAS.items()}
_SESSION_SCHEMAS = {topics.USAGE_SESSIONS: "UsageSessionChange",
                    topics.ALERT_SESSIONS: "AlertSession"}
_REASONS = {"suspended": "the wallet is empty (balance <= 0): add funds",
            "expired": "the trial has ended: choose a plan"}


@dataclass(frozen=True, slots=True)
class AccountInput:
    account_id: str
    bot_id: str
    at: int
    event_id: str
    mapping: dict[str, Any]  # account_event_to_mapping form (epoch ms), checked shape


@dataclass(frozen=True, slots=True)
class SessionInput:
    """A session change: identity as ``jobs.replay_money.session_charge`` builds it."""

    account_id: str
    bot_id: str
    at: int  # the event time that revealed it (header), for the partition clock
    identity: str
    kind: str
    start: int
    revision: int
    voided: bool


def bot_key(account_id: str, bot_id: str) -> str:
    return f"{account_id}\x1f{bot_id}"


@dataclass
class MoneyRows:
    """What one batch writes to ClickHouse (``sinks.money``)."""

    balances: list[rows.BotBalance] = field(default_factory=list)
    orders: list[rows.Order] = field(default_factory=list)
    ledger: list[rows.LedgerEntry] = field(default_factory=list)
    notifications: list[rows.Notification] = field(default_factory=list)

    def extend(self, other: MoneyRows) -> None:
        self.balances += other.balances
        self.orders += other.orders
        self.ledger += other.ledger
        self.notifications += other.notifications

    def __len__(self) -> int:
        return (len(self.balances) + len(self.orders) + len(self.ledger)
                + len(self.notifications))


@dataclass
class Recomputed:
    """One bot's recompute: its new state, what to send and write, and counts for metrics."""

    state: dict[str, Any]
    outgoing: list[Outgoing]
    rows: MoneyRows
    rejections: int = 0
    entitlement: Entitlement | None = None
    next_due: int | None = None
    """The event time at which recomputing again may change something the bot has not
    seen move: a notification waiting to settle, a movement later than ``as_of``."""


def _digest(mapping: dict[str, Any]) -> str:
    return hashlib.sha1(orjson.dumps(mapping, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]


class BalanceHandler:
    """Decode, absorb, recompute. ``settle_ms``: how far behind event time notifications
    wait (the largest inactivity timeout plus the grace)."""

    def __init__(self, codec: AvroCodec, catalog: Catalog, settle_ms: int) -> None:
        self.codec = codec
        self.catalog = catalog
        self.settle_ms = settle_ms

    # -- decoding ------------------------------------------------------------------------

    def decode(self, topic: str, value: bytes | None,
               headers: Any = None) -> AccountInput | SessionInput | None:
        """One message of an input -> what it says (``None``: the sessionizer's snapshot
        marker, not a session); :class:`InvalidMessage` says why not."""
        if not value:
            raise InvalidMessage("empty message value")
        try:
            schema, record = self.codec.decode(value)
        except SchemaError as error:
            raise InvalidMessage(str(error)) from None
        if topic == topics.ACCOUNT_EVENTS:
            kind = _ACCOUNT_TYPES.get(schema)
            if kind is None:
                raise InvalidMessage(f"topic {topic!r} carries account events, got a "
                                     f"{schema} record")
            try:
                event = account_event_from_mapping({**record, "type": kind})
            except BotbillError as error:
                raise InvalidMessage(str(error)) from None
            return AccountInput(event.account_id, event.bot_id, event.occurred_at,
                                event.event_id, account_event_to_mapping(event))
        if schema != _SESSION_SCHEMAS[topic]:
            raise InvalidMessage(f"topic {topic!r} carries {_SESSION_SCHEMAS[topic]}, "
                                 f"got a {schema} record")
        if topic == topics.ALERT_SESSIONS:
            at = record["delivered_at"]
            return SessionInput(record["account_id"], record["bot_id"], at,
                                f"alert/{record['event_id']}", "alert", at, 0, False)
        if record["session_index"] == SNAPSHOT_MARKER_INDEX:
            return None
        start = record["billing_session_start"]
        revealed = next((int(v) for k, v in _items(headers) if k == OCCURRED_AT_HEADER),
                        start)
        return SessionInput(record["account_id"], record["bot_id"], max(start, revealed),
                            f"usage/{record['conversation_id']}/"
                            f"{record['conversation_session_start']}/"
                            f"{record['session_index']}",
                            "usage", start, record["revision"], record["voided"])

    # -- the state -----------------------------------------------------------------------

    @staticmethod
    def new_state(account_id: str, bot_id: str) -> dict[str, Any]:
        return {"account_id": account_id, "bot_id": bot_id, "events": {}, "sessions": {},
                "as_of": None, "seq": 0, "reported": [], "orders": {}, "written": None}

    @staticmethod
    def absorb(state: dict[str, Any], item: AccountInput | SessionInput,
               offset: int) -> bool:
        """Add one input to the bot's state; returns whether anything changed."""
        if isinstance(item, AccountInput):
            versions = state["events"].setdefault(item.event_id, [])
            digest = _digest(item.mapping)
            if any(v[1] == digest for v in versions):
                return False  # a redelivery (R1): the same record again
            versions.append([offset, digest, item.mapping])
            return True
        sessions = state["sessions"]
        held = sessions.get(item.identity)
        if held is not None and item.revision < held[2]:
            return False  # an older revision read again after a newer one
        # a voided session stays as a tombstone (start None): never charged, and an older
        # revision of it read later cannot bring it back
        value = [item.kind, None if item.voided else item.start, item.revision]
        if held == value:
            return False
        sessions[item.identity] = value
        return True

    # -- the recompute -------------------------------------------------------------------

    def recompute(self, state: dict[str, Any], as_of: int, partition: int) -> Recomputed:
        """Recompute the bot as of ``as_of`` (its partition's event time) and diff with what
        was written. ``state`` is not modified; the new one is returned."""
        account_id, bot_id = state["account_id"], state["bot_id"]
        as_of = max(as_of, state["as_of"] if state["as_of"] is not None else as_of)
        events = _events(state)
        moves: list[Movement] = list(events)
        moves += [Charge(account_id, bot_id, start, kind, identity)
                  for identity, (kind, start, _) in state["sessions"].items()
                  if start is not None]
        books, outputs = run_books(moves, as_of, self.catalog)
        book = books.get((account_id, bot_id))
        horizon = as_of - self.settle_ms
        withheld = [o.at for o in outputs if isinstance(o, Notification) and o.at > horizon]
        settled: list[Output] = [o for o in outputs
                                 if not (isinstance(o, Notification) and o.at > horizon)]
        previous = (written_from_dict(state["written"], account_id, bot_id)
                    if state["written"] else Written())
        diff, written = money_diff(previous, settled, as_of)
        seq = state["seq"] + 1
        new = {**state, "as_of": as_of, "seq": seq, "written": written_to_dict(written)}
        later = [m.at if isinstance(m, Charge) else m.occurred_at for m in moves]
        due = [t + self.settle_ms for t in withheld] + [t for t in later if t > as_of]
        done = Recomputed(new, [], MoneyRows(), entitlement=diff.entitlement,
                          next_due=min(due) if due else None)
        self._rejections(state, new, outputs, events, partition, done)
        self._reloads(new, outputs, done)
        self._diff_out(diff, seq, done)
        if book is not None and book.registered_at is not None \
                and book.registered_at <= as_of:
            done.rows.balances.append(_balance(book, as_of))
            self._orders(new, book, events, outputs, done)
        return done

    def _rejections(self, old: dict[str, Any], new: dict[str, Any], outputs: list[Output],
                    events: dict[AccountEvent, tuple[int, dict[str, Any]]], partition: int,
                    done: Recomputed) -> None:
        """Rule breaks go to the dead letters once each, with the reason."""
        reported = set(old["reported"])
        for output in outputs:
            if not isinstance(output, Rejection) or output.event.event_id in reported:
                continue
            reported.add(output.event.event_id)
            offset, mapping = events.get(output.event, (-1, account_event_to_mapping(
                output.event)))
            body = {k: v for k, v in mapping.items() if k != "type"}
            value = self.codec.encode(ACCOUNT_EVENT_SCHEMAS[mapping["type"]], body,
                                      topic=topics.ACCOUNT_EVENTS)
            done.outgoing.append(dead_letter(
                self.codec, topics.ACCOUNT_EVENTS, partition, offset,
                output.event.bot_id.encode(), value,
                f"account event {output.event.event_id!r} rejected: {output.reason}",
                now_ms()))
            done.rejections += 1
        new["reported"] = sorted(reported)

    def _reloads(self, new: dict[str, Any], outputs: list[Output], done: Recomputed) -> None:
        """Auto-reload orders the engine placed go to ``account-events`` like any order (and
        into the state at once, so that they are sent once; read back, R1 ignores them)."""
        for output in outputs:
            if isinstance(output, OrderPlaced) and output.event_id not in new["events"]:
                mapping = account_event_to_mapping(output)
                new["events"] = {**new["events"],
                                 output.event_id: [[-1, _digest(mapping), mapping]]}
                body = {k: v for k, v in mapping.items() if k != "type"}
                done.outgoing.append(Outgoing(
                    topics.ACCOUNT_EVENTS, output.bot_id.encode(),
                    self.codec.encode("OrderPlaced", body, topic=topics.ACCOUNT_EVENTS)))

    def _diff_out(self, diff: MoneyDiff, seq: int, done: Recomputed) -> None:
        for change in diff.ledger:
            record = _ledger_record(change)
            done.outgoing.append(Outgoing(
                topics.WALLET_LEDGER, record["bot_id"].encode(),
                self.codec.encode("WalletLedgerEntry", record, topic=topics.WALLET_LEDGER)))
            done.rows.ledger += ledger_rows(change, seq)
        for note in diff.notifications:
            record = {"notification_id": note.notification_id, "account_id": note.account_id,
                      "bot_id": note.bot_id, "at": note.at, "kind": note.kind,
                      "detail": note.detail}
            done.outgoing.append(Outgoing(
                topics.NOTIFICATIONS, note.bot_id.encode(),
                self.codec.encode("BotNotification", record, topic=topics.NOTIFICATIONS)))
            done.rows.notifications.append(rows.Notification(
                note.account_id, note.bot_id, note.notification_id, note.at, note.kind,
                note.detail))
        ent = diff.entitlement
        if ent is not None:
            record = {"account_id": ent.account_id, "bot_id": ent.bot_id,
                      "allowed": ent.allowed, "status": ent.status,
                      "reason": "" if ent.allowed else _REASONS.get(ent.status, ent.status),
                      "since": ent.since}
            done.outgoing.insert(0, Outgoing(  # first: the platform waits for it
                topics.BOT_ENTITLEMENTS, ent.bot_id.encode(),
                self.codec.encode("BotEntitlement", record, topic=topics.BOT_ENTITLEMENTS)))

    @staticmethod
    def _orders(new: dict[str, Any], book: BotBook,
                events: dict[AccountEvent, tuple[int, dict[str, Any]]],
                outputs: list[Output], done: Recomputed) -> None:
        placed = {e.order_id: e.occurred_at for e in [*events, *outputs]
                  if isinstance(e, OrderPlaced)}
        written = dict(new["orders"])
        for order_id, order in sorted(book.orders.items()):
            row = rows.Order(book.account_id, book.bot_id, order_id,
                             placed.get(order_id, 0), order.amount, order.method,
                             order.status, order.settled_at or 0)
            if written.get(order_id) != order.status:
                written[order_id] = order.status
                done.rows.orders.append(row)
        new["orders"] = written


def _events(state: dict[str, Any]) -> dict[AccountEvent, tuple[int, dict[str, Any]]]:
    """Every distinct account-event record held, with its offset and mapping."""
    found: dict[AccountEvent, tuple[int, dict[str, Any]]] = {}
    for versions in state["events"].values():
        for offset, _, mapping in versions:
            found.setdefault(account_event_from_mapping(mapping), (offset, mapping))
    return found


def _balance(book: BotBook, as_of: int) -> rows.BotBalance:
    """The bot's balance row; its version is ``as_of`` (ms), the rule ``plan-status`` follows
    too, so whichever computed the later instant wins, whoever wrote it."""
    flags = book.flags(as_of)
    scheduled = book.scheduled
    enabled, threshold, amount = book.auto_reload
    return rows.BotBalance(
        book.account_id, book.bot_id, as_of, book.plan_id, book.status_at(as_of),
        book.granted, book.debited, book.expired, book.balance, book.owner_user_id,
        book.registered_at or 0, book.trial_end or 0,
        scheduled[0] if scheduled else "", scheduled[1] if scheduled else 0,
        "expiring" in flags, "extension_pending" in flags, enabled, threshold, amount, as_of)


def _ledger_record(change: LedgerEntry | Reversal) -> dict[str, Any]:
    entry = change.reverses if isinstance(change, Reversal) else change
    return {"entry_id": change.entry_id, "account_id": entry.account_id,
            "bot_id": entry.bot_id, "at": change.at,
            "kind": "reversal" if isinstance(change, Reversal) else entry.kind,
            "amount_cents": entry.amount_cents, "grant_id": entry.grant_id,
            "session_id": entry.session_id,
            "draws": [{"source": s, "cents": c} for s, c in entry.draws],
            "reverses": entry.entry_id if isinstance(change, Reversal) else "",
            "reversed_kind": entry.kind if isinstance(change, Reversal) else ""}


_SIGN = {"grant": 1, "debit": -1, "expiry": -1, "reversal": 1}


def ledger_rows(change: LedgerEntry | Reversal, version: int) -> list[rows.LedgerEntry]:
    """The ``wallet_ledger`` rows of one change: amounts signed (+ in, - out), so the sum of
    a bot's rows is its balance. A debit (or a void's reversal) is one row per grant it drew
    from (``grant_id`` empty: the overdraft), ``{id}/{grant or overdraft}``; a repayment is
    two rows that cancel (the grant pays, the overdraft is paid); a cancellation repeats the
    cancelled entry's rows with the opposite sign, ``reference`` = the cancelled id."""
    entry = change.reverses if isinstance(change, Reversal) else change
    flip = -1 if isinstance(change, Reversal) else 1
    kind = "reversal" if isinstance(change, Reversal) else entry.kind
    reference = entry.entry_id if isinstance(change, Reversal) else entry.session_id
    at = change.at

    def row(suffix: str, grant_id: str, cents: int) -> rows.LedgerEntry:
        return rows.LedgerEntry(entry.account_id, entry.bot_id, change.entry_id + suffix, at,
                                kind, grant_id, flip * cents, reference, version)

    if entry.kind == "repayment":
        return [row("", entry.grant_id, -entry.amount_cents),
                row("/overdraft", "", entry.amount_cents)]
    if entry.kind in ("debit", "reversal") and entry.draws:
        sign = _SIGN[entry.kind]
        return [row(f"/{grant or 'overdraft'}", grant, sign * cents)
                for grant, cents in entry.draws]
    return [row("", entry.grant_id, _SIGN[entry.kind] * entry.amount_cents)]


def _items(headers: Any) -> list[tuple[str, bytes]]:
    items = headers.items() if isinstance(headers, dict) else (headers or ())
    return [(k, v) for k, v in items]

