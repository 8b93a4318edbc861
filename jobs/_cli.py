"""What the money jobs' command lines share: options, the instant ``T``, the output."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable
from typing import IO, Any

import orjson

from botbill.billing_rules.timeutil import parse_rfc3339_ms
from botbill.sinks.connection import URL_ENV

__all__ = ["add_common", "as_of_of", "now_ms", "parse_instant", "write_output", "write_rows"]


def now_ms() -> int:
    """The wall clock, read only here, at the edge: the rules take time as an argument."""
    return int(time.time() * 1000)


def parse_instant(text: str) -> int:
    try:
        return parse_rfc3339_ms(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_common(parser: argparse.ArgumentParser, *, account: bool = True) -> None:
    if account:
        parser.add_argument("--account", help="only this account")
    parser.add_argument("--as-of", type=parse_instant, metavar="T",
                        help="the instant (RFC 3339, e.g. 2026-03-02T00:00:00.000Z; "
                             "default: now)")
    parser.add_argument("--catalog", metavar="FILE",
                        help="the plan catalog (default: $BOTBILL_CATALOG, else built in)")
    parser.add_argument("--url", help=f"ClickHouse URL (default: ${URL_ENV})")


def as_of_of(args: argparse.Namespace) -> int:
    return args.as_of if args.as_of is not None else now_ms()


def write_rows(rows: Iterable[dict[str, Any]], out: IO[bytes]) -> int:
    """One JSON object a line, exactly as ``botbill replay --balances/--invoices`` writes."""
    count = 0
    for row in rows:
        out.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
        count += 1
    return count


def write_output(rows: list[dict[str, Any]], path: str | None) -> int:
    """To stdout, or to ``path`` whole (written aside, then renamed into place)."""
    if not path:
        count = write_rows(rows, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return count
    partial = f"{path}.partial"
    try:
        with open(partial, "wb") as out:
            count = write_rows(rows, out)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return count
