"""``botbill invoices run|export``: the invoicing job (MONEY_RULES M3) and its §4 read-out.

``run [--month YYYY-MM] [--as-of T] [--account A]`` recomputes the books as of ``T`` (default
now) from ClickHouse (:mod:`jobs.money_data`), takes the month's invoices and receipts from
``billing_rules.invoices`` and writes them with ``sinks.money.write_invoice`` (one key per
invoice and line). Without ``--month``, every month up to ``T``'s, oldest first.

- A draft is rewritten while it changes (version = ``T``: an older run never wins); from
  ``month_start(next month) + grace`` it is written ``final`` once and never changed.
- A final invoice whose recompute now differs (late events, reconciliation) is left as it
  is: the difference goes on the next month's invoice as ``adjustment`` lines
  (``billing_rules.invoices.adjustment_lines``), counted against everything already issued,
  so a correction is carried exactly once.
- Running it again changes nothing: an invoice equal to the stored one is not written.

``export [--account A] [--month YYYY-MM]`` prints the stored invoices as MONEY_RULES §4 rows;
after ``run`` as of ``T`` it equals ``replay --as-of T --invoices`` when nothing was late.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botbill.billing_rules.calendar import month_bounds, month_key, month_text
from botbill.billing_rules.catalog import Catalog
from botbill.billing_rules.exceptions import BotbillError
from botbill.billing_rules.invoices import (
    DEFAULT_GRACE_MS,
    Invoice,
    adjustment_lines,
    carry_adjustments,
    invoice_row,
    invoices,
)
from botbill.billing_rules.timeutil import parse_duration_ms
from botbill.sinks import money as store

from ._cli import add_common, as_of_of, write_output
from .catalog_file import load_catalog
from .money_data import Recomputed, recompute

__all__ = ["InvoiceRun", "main", "run_invoices"]

Client = Any
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@dataclass(slots=True)
class InvoiceRun:
    """What a run did, by ``invoice_id``."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_final: list[str] = field(default_factory=list)  # final, recompute differs


def _finals_before(stored: Mapping[str, Invoice], account_id: str,
                   period: str) -> list[Invoice]:
    return [i for i in stored.values() if i.account_id == account_id and i.status == "final"
            and i.invoice_id.startswith("INV-") and i.period < period]


def run_invoices(client: Client, catalog: Catalog, as_of: int, *,
                 months: Iterable[str] | None = None, account: str | None = None,
                 grace_ms: int = DEFAULT_GRACE_MS, found: Recomputed | None = None,
                 ) -> InvoiceRun:
    """Write the invoices and receipts of ``months`` (default: every month up to
    ``as_of``'s) as of ``as_of`` (``found``: that recompute, if already made); see the
    module docstring."""
    if found is None:
        found = recompute(client, catalog, as_of, account=account)
    computed = {i.invoice_id: i for i in invoices(found.books, catalog, as_of, grace_ms)}
    stored = {i.invoice_id: i for i in store.read_invoices(client, account=account)}
    last = month_text(month_key(as_of))
    wanted = sorted(set(months) if months is not None
                    else {i.period for i in computed.values()} | {last})
    report = InvoiceRun()
    for period in wanted:
        if period > last:
            continue  # nothing is invoiced ahead of T
        end = month_bounds(_key(period))[1]
        status = "final" if as_of >= end + grace_ms else "draft"
        accounts = ({i.account_id for i in computed.values() if i.period == period}
                    | {i.account_id for i in stored.values() if i.period < period})
        for account_id in sorted(accounts):
            monthly = computed.get(f"INV-{account_id}-{period}")
            finals = _finals_before(stored, account_id, period)
            extra = adjustment_lines(finals, [computed[i.invoice_id] for i in finals
                                              if i.invoice_id in computed])
            if any(i.account_id == account_id and i.period < period and i.status == "draft"
                   and i.invoice_id.startswith("INV-") for i in computed.values()):
                extra = ()  # an earlier month still open carries them (once, not twice)
            target = carry_adjustments(monthly, extra, account_id=account_id, period=period,
                                       status=status)
            if target is not None:
                _write(client, target, as_of, stored, report)
        for receipt in sorted(i.invoice_id for i in computed.values()
                              if i.period == period and i.invoice_id.startswith("RCT-")):
            _write(client, computed[receipt], as_of, stored, report)
    return report


def _key(period: str) -> int:
    year, month = period.split("-")
    return int(year) * 12 + int(month) - 1


def _write(client: Client, invoice: Invoice, as_of: int, stored: dict[str, Invoice],
           report: InvoiceRun) -> None:
    old = stored.get(invoice.invoice_id)
    if old == invoice:
        report.unchanged.append(invoice.invoice_id)
        return
    if old is not None and old.status == "final":
        report.kept_final.append(invoice.invoice_id)
        return
    if store.write_invoice(client, invoice, version=as_of, issued_at=as_of):
        stored[invoice.invoice_id] = invoice
        report.written.append(invoice.invoice_id)
    else:
        report.unchanged.append(invoice.invoice_id)  # a later run already wrote it


def _month(text: str) -> str:
    if not _MONTH.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not a month (YYYY-MM): {text!r}")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="botbill invoices", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="write the month's invoices and receipts")
    run.add_argument("--month", type=_month, help="YYYY-MM (default: every month up to T)")
    add_common(run)
    run.add_argument("--invoice-grace", default="1d",
                     help="how long after a month an invoice stays a draft (default 1d)")
    export = commands.add_parser("export", help="stored invoices as MONEY_RULES §4 rows")
    export.add_argument("--account", help="only this account")
    export.add_argument("--month", type=_month, help="only this period (YYYY-MM)")
    export.add_argument("-o", "--output", metavar="FILE", help="write here, not to stdout")
    export.add_argument("--url", help="ClickHouse URL (default: $BOTBILL_CLICKHOUSE_URL)")
    args = parser.parse_args(argv)
    from botbill.sinks.connection import connect

    try:
        client = connect(args.url)
        try:
            if args.command == "export":
                rows = [invoice_row(i) for i in store.read_invoices(client, account=args.account,
                                                                month=args.month)]
                count = write_output(rows, args.output)
                if args.output:
                    print(f"{count} invoices -> {args.output}", file=sys.stderr)
                return 0
            done = run_invoices(client, load_catalog(args.catalog), as_of_of(args),
                                months=[args.month] if args.month else None,
                                account=args.account,
                                grace_ms=parse_duration_ms(args.invoice_grace))
        finally:
            client.disconnect()
    except (BotbillError, ValueError) as error:
        print(f"botbill invoices {args.command}: {error}", file=sys.stderr)
        return 1
    for invoice_id in done.kept_final:
        print(f"botbill invoices run: {invoice_id} is final and its recompute differs: "
              "kept; the difference goes on the next month's invoice", file=sys.stderr)
    print(f"botbill invoices run: {len(done.written)} written, {len(done.unchanged)} "
          f"unchanged, {len(done.kept_final)} final kept", file=sys.stderr)
    return 0
