"""``botbill balances export [--account A] [--as-of T] [--output FILE]``: the MONEY_RULES §4
balance rows as of ``T`` (default now), recomputed from what ClickHouse holds (the archived
account events and the billed sessions) with the engine ``replay`` uses, so the time-driven
changes up to ``T`` (expiries, trial ends, downgrades at a month's start) are applied even
where no event came after them. Equals ``replay --as-of T --balances`` whenever no event was
late."""

from __future__ import annotations

import argparse
import sys

from botbill.billing_rules.exceptions import BotbillError
from botbill.billing_rules.invoices import balance_rows

from ._cli import add_common, as_of_of, write_output
from .catalog_file import load_catalog
from .money_data import recompute

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="botbill balances", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="balance rows (MONEY_RULES §4) as of T")
    add_common(export)
    export.add_argument("-o", "--output", metavar="FILE", help="write here, not to stdout")
    args = parser.parse_args(argv)
    from botbill.sinks.connection import connect

    try:
        catalog = load_catalog(args.catalog)
        as_of = as_of_of(args)
        client = connect(args.url)
        try:
            found = recompute(client, catalog, as_of, account=args.account)
        finally:
            client.disconnect()
        count = write_output(balance_rows(found.books, as_of), args.output)
    except BotbillError as error:
        print(f"botbill balances export: {error}", file=sys.stderr)
        return 1
    if args.output:
        print(f"{count} balance rows -> {args.output}", file=sys.stderr)
    return 0
