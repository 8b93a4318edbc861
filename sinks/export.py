"""``botbill sessions export``: the finance export, one JSON object per billed session.

Rows are ``billing_rules.sessions.to_row`` in ``row_sort_key`` order, serialized like
``botbill replay`` (sorted keys, compact), so the two outputs compare byte for byte.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from datetime import date
from typing import IO

from botbill.billing_rules.sessions import AlertSession, UsageSession, to_row

from .connection import URL_ENV, connect
from .exceptions import SinkError
from .queries import billed_sessions

__all__ = ["main", "write_rows"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="botbill sessions", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("export", help="billed sessions as JSON Lines")
    run.add_argument("--account", help="only this account")
    run.add_argument("--bot", help="only this bot")
    run.add_argument("--from", dest="day_from", type=_day, metavar="DAY",
                     help="first UTC billing day, YYYY-MM-DD (inclusive)")
    run.add_argument("--to", dest="day_to", type=_day, metavar="DAY",
                     help="last UTC billing day, YYYY-MM-DD (inclusive)")
    run.add_argument("-o", "--output", help="write here, not to stdout")
    run.add_argument("--url", help=f"ClickHouse URL (default: ${URL_ENV})")
    args = parser.parse_args(argv)
    if args.day_from and args.day_to and args.day_from > args.day_to:
        parser.error("--from must not be after --to")
    try:
        count = _export(args)
    except SinkError as error:
        print(f"botbill sessions export: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `| head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if args.output:
        print(f"{count} sessions -> {args.output}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    client = connect(args.url)
    try:
        sessions = billed_sessions(client, account=args.account, bot=args.bot,
                                   day_from=args.day_from, day_to=args.day_to)
        if not args.output:
            return write_rows(sessions, sys.stdout.buffer)
        # Finance must never mistake a half-written file for an export: it appears whole.
        partial = f"{args.output}.partial"
        try:
            with open(partial, "wb") as out:
                count = write_rows(sessions, out)
            os.replace(partial, args.output)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
        return count
    finally:
        client.disconnect()


def write_rows(sessions: Iterable[UsageSession | AlertSession], out: IO[bytes]) -> int:
    """Write each session as one JSON line; returns how many."""
    count = 0
    for session in sessions:
        line = json.dumps(to_row(session), sort_keys=True, ensure_ascii=False,
                          separators=(",", ":"))
        out.write(line.encode() + b"\n")
        count += 1
    return count


def _day(text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {text!r}") from None
