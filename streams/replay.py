"""``botbill replay EVENTS...``: bill event files offline with the rules of ``billing_rules``.

For backfills, audits and reconciliation. Reads JSON Lines (BILLING_RULES §1) or Avro
container files, several of them, ``-`` for stdin; streams them through
:class:`billing_rules.batch.BatchBiller`, so memory follows the open conversations, not
the file; writes BILLING_RULES §3 JSON Lines.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

from billing_rules.batch import DEFAULT_MAX_DISORDER_MS, BatchBiller, Billed
from billing_rules.events import Event, event_from_mapping
from billing_rules.exceptions import BotbillError, InvalidEvent, LateEvent
from billing_rules.sessions import AlertSession, to_row
from billing_rules.settings import DEFAULT_TIMEOUT_MS, TimeoutPolicy
from billing_rules.timeutil import format_ms, parse_duration_ms

__all__ = ["BadRecord", "main", "read_events", "replay"]

_AVRO_MAGIC = b"Obj\x01"
_PROGRESS_MIN_BYTES = 8 * 1024 * 1024


class BadRecord(BotbillError):
    """A record of an input file that cannot be billed; names ``file:line`` and the reason."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


@dataclass(slots=True)
class ReplayStats:
    bad_records: int = 0
    files: int = 0


def _open_input(path: str) -> IO[bytes]:
    return sys.stdin.buffer if path == "-" else open(path, "rb")


def read_events(path: str, stream: IO[bytes]) -> Iterator[tuple[str, Event | BadRecord]]:
    """Yield ``(where, event or BadRecord)`` for each record of one input."""
    name = "<stdin>" if path == "-" else path
    head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""
    if head == _AVRO_MAGIC:
        from schemas import SchemaError
        from schemas.container import iter_container_records

        number = 0
        try:
            for number, record in enumerate(iter_container_records(stream), start=1):
                where = f"{name}:record {number}"
                try:
                    yield where, event_from_mapping(record)
                except InvalidEvent as error:
                    yield where, BadRecord(where, error.args[0])
        except SchemaError as error:  # the rest of a corrupt container cannot be read
            where = f"{name}:record {number + 1}"
            yield where, BadRecord(where, f"{error} (the rest of this file is unreadable)")
        return
    for number, line in enumerate(stream, start=1):
        where = f"{name}:{number}"
        if not line.strip():
            continue
        try:
            record: Any = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            yield where, BadRecord(where, f"not valid JSON ({error})")
            continue
        if not isinstance(record, dict):
            yield where, BadRecord(where, "a line must hold one JSON object")
            continue
        try:
            yield where, event_from_mapping(record)
        except InvalidEvent as error:
            yield where, BadRecord(where, error.args[0])


def replay(
    paths: list[str],
    biller: BatchBiller,
    *,
    skip_invalid: bool = False,
    errors: IO[str] = sys.stderr,
    progress: bool = False,
) -> Iterator[Billed]:
    """Bill every event of ``paths``; raises :class:`BadRecord` on the first bad record
    unless ``skip_invalid``, in which case it reports each on ``errors`` and goes on."""
    stats = ReplayStats()
    bar = _progress_bar(paths) if progress else None
    try:
        for path in paths:
            stats.files += 1
            with _open_input(path) as stream:
                position = 0
                for where, item in read_events(path, stream):
                    if bar is not None and path != "-":
                        now = stream.tell()
                        bar.update(now - position)
                        position = now
                    if isinstance(item, BadRecord):
                        bad: BadRecord = item
                    else:
                        try:
                            yield from biller.add(item)
                            continue
                        except LateEvent as error:
                            bad = BadRecord(where, str(error))
                    if not skip_invalid:
                        raise bad
                    stats.bad_records += 1
                    print(f"botbill replay: skipped {bad}", file=errors)
        yield from biller.finish()
    finally:
        if bar is not None:
            bar.close()
    if stats.bad_records:
        print(f"botbill replay: {stats.bad_records} invalid record(s) skipped", file=errors)


def _progress_bar(paths: list[str]) -> Any:
    import os

    from tqdm import tqdm

    total = sum(os.path.getsize(p) for p in paths if p != "-")
    if total < _PROGRESS_MIN_BYTES:
        return None
    return tqdm(total=total, unit="B", unit_scale=True, desc="replay", file=sys.stderr)


def _parse_bot_timeouts(values: list[str]) -> dict[str, int]:
    timeouts: dict[str, int] = {}
    for value in values:
        bot_id, sep, duration = value.partition("=")
        if not sep or not bot_id:
            raise ValueError(f"--bot-timeout takes BOT=DURATION, got {value!r}")
        timeouts[bot_id] = parse_duration_ms(duration)
    return timeouts


def _summary_table(counts: Counter[tuple[str, str, str, str]]) -> str:
    keys = sorted({(a, b, m) for a, b, m, _ in counts})
    rows = [("account", "bot", "month", "usage_sessions", "alert_sessions")]
    rows += [(a, b, m, str(counts[a, b, m, "usage"]), str(counts[a, b, m, "alert"]))
             for a, b, m in keys]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows]
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="botbill replay",
        description="Bill event files offline with the same rules as the stream "
                    "(JSON Lines or Avro container files; '-' reads stdin).")
    parser.add_argument("events", nargs="+", metavar="EVENTS")
    parser.add_argument("-o", "--output", help="write the billed sessions here, not stdout")
    parser.add_argument("--summary", action="store_true",
                        help="print usage and alert sessions per account, bot and month "
                             "(instead of the rows on stdout, unless --output is given)")
    parser.add_argument("--skip-invalid", action="store_true",
                        help="report bad records on stderr and bill everything else")
    parser.add_argument("--timeout", default=f"{DEFAULT_TIMEOUT_MS // 60000}m",
                        help="default inactivity timeout T (5m..14d; default 15m)")
    parser.add_argument("--bot-timeout", action="append", default=[], metavar="BOT=DURATION",
                        help="inactivity timeout for one bot (repeatable)")
    parser.add_argument("--max-disorder", default=f"{DEFAULT_MAX_DISORDER_MS // 86400000}d",
                        help="how far (event time) input may be out of order; bounds memory "
                             "(default 35d)")
    parser.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                        help="progress bar on stderr (auto: when stderr is a terminal)")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        policy = TimeoutPolicy(parse_duration_ms(args.timeout),
                               _parse_bot_timeouts(args.bot_timeout))
        max_disorder = parse_duration_ms(args.max_disorder)
    except (ValueError, BotbillError) as error:
        print(f"botbill replay: {error}", file=sys.stderr)
        return 2
    biller = BatchBiller(policy, max_disorder)
    progress = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())
    counts: Counter[tuple[str, str, str, str]] = Counter()
    out: IO[bytes] = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115
    write_rows = bool(args.output) or not args.summary
    try:
        for billed in replay(args.events, biller, skip_invalid=args.skip_invalid,
                             progress=progress):
            if write_rows:
                out.write(orjson.dumps(to_row(billed), option=orjson.OPT_SORT_KEYS) + b"\n")
            if args.summary:
                at = billed.delivered_at if isinstance(billed, AlertSession) \
                    else billed.billing_session_start
                kind = "alert" if isinstance(billed, AlertSession) else "usage"
                counts[billed.account_id, billed.bot_id, format_ms(at)[:7], kind] += 1
    except OSError as error:
        print(f"botbill replay: {error}", file=sys.stderr)
        return 1
    except BadRecord as error:
        print(f"botbill replay: {error} (use --skip-invalid to bill the rest)", file=sys.stderr)
        return 1
    finally:
        if args.output:
            out.close()
        else:
            out.flush()
    if args.summary:
        sys.stdout.write(_summary_table(counts))
    return 0
