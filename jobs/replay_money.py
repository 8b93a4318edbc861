"""The money side of ``botbill replay`` (MONEY_RULES §4): ``--as-of T --balances FILE
--invoices FILE [--catalog FILE]``.

``streams.replay`` hands over each account-event line (:class:`AccountRecord`, with its
``file:line``) and each billed session; :meth:`MoneyReplay.finish` folds them with
``billing_rules.money.run_books`` as of ``T`` and writes the balance and invoice rows.
Account events that are malformed or break a rule are reported on stderr with ``file:line``
and the reason, counted, and never stop the replay.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import IO, Any

import orjson

from botbill.billing_rules.account_events import AccountEvent, account_event_from_mapping
from botbill.billing_rules.catalog import Catalog
from botbill.billing_rules.exceptions import InvalidEvent
from botbill.billing_rules.invoices import (
    DEFAULT_GRACE_MS,
    balance_rows,
    invoice_rows,
    invoices,
)
from botbill.billing_rules.money import Charge, Movement, Rejection, run_books
from botbill.billing_rules.sessions import AlertSession, UsageSession
from botbill.billing_rules.timeutil import parse_duration_ms, parse_rfc3339_ms

from .catalog_file import load_catalog

__all__ = ["AccountRecord", "MoneyReplay", "add_arguments", "from_args", "session_charge"]


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """An account-event line of a replay input, not yet validated."""

    where: str
    record: dict[str, Any]


def session_charge(billed: UsageSession | AlertSession) -> Charge:
    """The money movement of a billed session: priced where it starts (M2)."""
    if isinstance(billed, AlertSession):
        return Charge(billed.account_id, billed.bot_id, billed.delivered_at, "alert",
                      f"alert/{billed.event_id}")
    return Charge(billed.account_id, billed.bot_id, billed.billing_session_start, "usage",
                  f"usage/{billed.conversation_id}/{billed.conversation_session_start}/"
                  f"{billed.session_index}")


class MoneyReplay:
    """Collects a replay's account events and billed sessions, then writes §4 rows."""

    def __init__(self, catalog: Catalog, *, as_of: int | None = None,
                 balances: str | None = None, invoices: str | None = None,
                 grace_ms: int = DEFAULT_GRACE_MS, errors: IO[str] = sys.stderr) -> None:
        self.catalog = catalog
        self.as_of = as_of
        self.balances_path = balances
        self.invoices_path = invoices
        self.grace_ms = grace_ms
        self.errors = errors
        self.movements: list[Movement] = []
        self.where: dict[AccountEvent, str] = {}
        self.latest: int | None = None
        self.invalid = 0

    def add_record(self, item: AccountRecord) -> None:
        try:
            event = account_event_from_mapping(item.record)
        except InvalidEvent as error:
            self._report(item.where, error.reason)
            return
        self.where.setdefault(event, item.where)
        self.movements.append(event)
        if self.latest is None or event.occurred_at > self.latest:
            self.latest = event.occurred_at

    def add_session(self, billed: UsageSession | AlertSession) -> None:
        self.movements.append(session_charge(billed))

    def _report(self, where: str, reason: str) -> None:
        self.invalid += 1
        print(f"botbill replay: rejected account event {where}: {reason}", file=self.errors)

    def finish(self, watermark: int | None) -> None:
        """Fold everything as of ``--as-of`` (default: the latest ``occurred_at`` read) and
        write the rows. ``watermark``: the latest ``occurred_at`` of the usage events."""
        as_of = self.as_of
        if as_of is None:
            known = [t for t in (self.latest, watermark) if t is not None]
            as_of = max(known) if known else 0
        books, outputs = run_books(self.movements, as_of, self.catalog)
        rejected = [(self.where.get(o.event, repr(o.event.event_id)), o.reason)
                    for o in outputs if isinstance(o, Rejection)]
        for where, reason in sorted(rejected, key=_file_line):
            self._report(where, reason)
        if self.invalid:
            print(f"botbill replay: {self.invalid} invalid account event(s) rejected",
                  file=self.errors)
        if self.balances_path:
            _write(self.balances_path, balance_rows(books, as_of))
        if self.invoices_path:
            found = invoices(books, self.catalog, as_of, self.grace_ms)
            _write(self.invoices_path, invoice_rows(found))


def _file_line(item: tuple[str, str]) -> tuple[str, int]:
    """``file:line`` in file, then line order."""
    name, _, line = item[0].rpartition(":")
    return (name, int(line)) if line.isdigit() else (item[0], 0)


def _write(path: str, rows: list[dict[str, Any]]) -> None:
    with open(path, "wb") as out:
        for row in rows:
            out.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("money (MONEY_RULES §4)")
    group.add_argument("--as-of", help="the instant T of balances and invoices (RFC 3339; "
                                       "default: the latest occurred_at in the input)")
    group.add_argument("--balances", metavar="FILE", help="write one balance row per bot")
    group.add_argument("--invoices", metavar="FILE", help="write one row per invoice/receipt")
    group.add_argument("--catalog", metavar="FILE",
                       help="the plan catalog (default: $BOTBILL_CATALOG, else built in)")
    group.add_argument("--invoice-grace", default="1d",
                       help="how long after a month an invoice stays a draft (default 1d)")


def from_args(args: argparse.Namespace) -> MoneyReplay | None:
    """The money side asked for by the command line, or ``None``; raises ``ValueError`` or
    ``InvalidCatalog`` on a bad option or catalog."""
    if not (args.balances or args.invoices):
        return None
    as_of = parse_rfc3339_ms(args.as_of) if args.as_of else None
    return MoneyReplay(load_catalog(args.catalog), as_of=as_of, balances=args.balances,
                       invoices=args.invoices, grace_ms=parse_duration_ms(args.invoice_grace))
