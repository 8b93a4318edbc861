"""``botbill replay EVENTS...``: bill event files offline with the rules of ``billing_rules``.

For backfills, audits and reconciliation. Reads JSON Lines (BILLING_RULES §1) or Avro
container files, several of them, ``-`` for stdin; streams them through
:class:`billing_rules.batch.BatchBiller`, so memory follows the open conversations, not
the file; writes BILLING_RULES §3 JSON Lines.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Annotated, Any, Literal

import orjson

from botbill.billing_rules.account_events import ACCOUNT_EVENT_TYPES
from botbill.billing_rules.batch import BatchBiller, Billed
from botbill.billing_rules.events import (
    Event,
    event_from_mapping,
    unchecked_alert,
    unchecked_handoff,
    unchecked_turn,
)
from botbill.billing_rules.exceptions import BotbillError, InvalidEvent, LateEvent
from botbill.billing_rules.periods import billing_month
from botbill.billing_rules.sessions import AlertSession, to_row
from botbill.billing_rules.settings import BillingSettings
from botbill.billing_rules.timeutil import (
    MAX_EVENT_MS,
    MIN_EVENT_MS,
    in_event_range,
    parse_rfc3339_ms,
)
from botbill.jobs import replay_money
from botbill.jobs.replay_money import AccountRecord

from .exceptions import BadRecord

__all__ = ["BadRecord", "main", "read_events", "replay"]

_AVRO_MAGIC = b"Obj\x01"
_PROGRESS_MIN_BYTES = 8 * 1024 * 1024
# Input is decoded a block at a time: big enough to be cheap, small enough that a block in
# flight adds little to memory.
_READ_SIZE = 1 << 16  # bytes of JSON Lines
_AVRO_BLOCK_RECORDS = 1024


# -- the typed decoder (optional: msgspec) ---------------------------------------------------
#
# msgspec decodes a line straight into a typed struct, checking in C what
# ``event_from_mapping`` checks (all but the form of an ``occurred_at`` string, which is
# parsed with the same function). It is made to accept only lines that the reference path
# accepts, with the same values: a record must hold exactly the contract's fields (msgspec
# checks skipped values less strictly than orjson), integers must fit in 64 bits (orjson
# reads larger ones as floats; the event time bounds are tighter still), ``is_test: null``
# and duplicate tags are left to the reference path. Whatever it refuses goes to the
# reference path, which decides.

try:
    import msgspec
except ImportError:  # without it, every line takes the reference path
    msgspec = None

_typed: Any = None
_TYPED_REFUSALS: tuple[type[Exception], ...] = (ValueError,)
if msgspec is not None:
    _Text = Annotated[str, msgspec.Meta(min_length=1)]
    _Millis = Annotated[int, msgspec.Meta(ge=MIN_EVENT_MS, le=MAX_EVENT_MS)]

    class _Turn(msgspec.Struct, tag_field="type", tag="conversation_turn",
                forbid_unknown_fields=True, gc=False):
        event_id: _Text
        account_id: _Text
        bot_id: _Text
        occurred_at: str | _Millis
        conversation_id: _Text
        user_id: _Text
        channel: _Text
        speaker: Literal["USER", "BOT", "AGENT"]
        is_test: bool = False

        def event(self, occurred_at: int) -> Event:
            return unchecked_turn(self.event_id, self.account_id, self.bot_id, occurred_at,
                                  self.conversation_id, self.user_id, self.channel,
                                  self.speaker, self.is_test)

    class _Handoff(msgspec.Struct, tag_field="type", tag="agent_handoff",
                   forbid_unknown_fields=True, gc=False):
        event_id: _Text
        account_id: _Text
        bot_id: _Text
        occurred_at: str | _Millis
        conversation_id: _Text
        user_id: _Text
        channel: _Text
        handoff_id: _Text
        phase: Literal["STARTED", "ENDED"]
        agent_id: str | None = None
        is_test: bool = False

        def event(self, occurred_at: int) -> Event:
            return unchecked_handoff(self.event_id, self.account_id, self.bot_id, occurred_at,
                                     self.conversation_id, self.user_id, self.channel,
                                     self.handoff_id, self.phase, self.agent_id, self.is_test)

    class _Alert(msgspec.Struct, tag_field="type", tag="alert_delivered",
                 forbid_unknown_fields=True, gc=False):
        event_id: _Text
        account_id: _Text
        bot_id: _Text
        occurred_at: str | _Millis
        alert_id: _Text
        user_id: _Text
        channel: _Text
        is_test: bool = False

        def event(self, occurred_at: int) -> Event:
            return unchecked_alert(self.event_id, self.account_id, self.bot_id, occurred_at,
                                   self.alert_id, self.user_id, self.channel, self.is_test)

    _typed = msgspec.json.Decoder(_Turn | _Handoff | _Alert)
    _TYPED_REFUSALS = (msgspec.DecodeError, ValueError)


@dataclass(slots=True)
class ReplayStats:
    bad_records: int = 0
    files: int = 0


@dataclass(slots=True)
class _Block:
    """Consecutive records of one input, decoded: events, or :class:`BadRecord` in their
    place. ``where(i)`` names the record of ``items[i]`` (built only when needed)."""

    items: list[Event | BadRecord | AccountRecord]
    where: Callable[[int], str]
    size: int  # bytes of input read for it, for the progress bar


def _open_input(path: str) -> IO[bytes]:
    return sys.stdin.buffer if path == "-" else open(path, "rb")


def read_events(path: str, stream: IO[bytes], accounts: bool = False,
                ) -> Iterator[tuple[str, Event | BadRecord | AccountRecord]]:
    """Yield ``(where, event or BadRecord)`` for each record of one input; account events
    (MONEY_RULES §1) as :class:`AccountRecord` if ``accounts``, else as bad records."""
    for block in _read_blocks(path, stream):
        for index, item in enumerate(block.items):
            if item.__class__ is AccountRecord and not accounts:
                item = BadRecord(block.where(index), "account events are not supported here")
            yield block.where(index), item


def _read_blocks(path: str, stream: IO[bytes]) -> Iterator[_Block]:
    name = "<stdin>" if path == "-" else path
    head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""
    if head == _AVRO_MAGIC:
        return _avro_blocks(name, stream)
    return _json_blocks(name, stream)


def _avro_blocks(name: str, stream: IO[bytes]) -> Iterator[_Block]:
    from botbill.schemas import SchemaError
    from botbill.schemas.container import iter_container_records

    def block(first: int, items: list[Event | BadRecord], position: int) -> _Block:
        now = stream.tell() if stream.seekable() else position
        return _Block(items, lambda index: f"{name}:record {first + index}", now - position)

    items: list[Event | BadRecord | AccountRecord] = []
    first = 1  # the number of items[0]
    position = stream.tell() if stream.seekable() else 0
    try:
        for number, record in enumerate(iter_container_records(stream), start=1):
            try:
                items.append(event_from_mapping(record))
            except InvalidEvent as error:
                items.append(BadRecord(f"{name}:record {number}", error.args[0]))
            if len(items) == _AVRO_BLOCK_RECORDS:
                done = block(first, items, position)
                yield done
                items, first, position = [], number + 1, position + done.size
    except SchemaError as error:  # the rest of a corrupt container cannot be read
        items.append(BadRecord(f"{name}:record {first + len(items)}",
                               f"{error} (the rest of this file is unreadable)"))
    yield block(first, items, position)


def _json_blocks(name: str, stream: IO[bytes]) -> Iterator[_Block]:
    """JSON Lines, read in large blocks (``read1``: a pipe is billed as it comes)."""
    read = getattr(stream, "read1", None) or stream.read
    rest = b""
    lines_before = 0
    typed = _typed is not None
    while chunk := read(_READ_SIZE):
        lines = (rest + chunk).split(b"\n") if rest else chunk.split(b"\n")
        rest = lines.pop()  # the unfinished last line (b"" after a newline)
        block, refused = _decode_lines(name, lines, lines_before, True, len(chunk), typed)
        yield block
        lines_before += len(lines)
        if refused * 2 > len(lines):
            typed = False  # e.g. records with more fields than the contract's: stop trying
    if rest:
        yield _decode_lines(name, [rest], lines_before, False, 0, typed)[0]


def _decode_lines(name: str, lines: list[bytes], lines_before: int, newline: bool,
                  size: int, typed: bool) -> tuple[_Block, int]:
    """Decode and validate lines ``lines_before + 1 ...`` of a JSON Lines input; also
    return how many lines the typed decoder refused.

    Each line is tried with the typed decoder (if ``typed``), else, or when that refuses
    it, with the reference path :func:`_decode_line`, which decides and names the fault.
    Blank lines are skipped.
    """
    items: list[Event | BadRecord | AccountRecord] = []
    append = items.append
    skipped: list[int] = []  # for each blank line, the number of items before it
    refused = 0
    decode = _typed.decode if typed else None
    parse_time = _event_time
    for number, line in enumerate(lines, start=lines_before + 1):
        if decode is not None:
            try:
                record = decode(line)
                at = record.occurred_at
                append(record.event(at if at.__class__ is int else parse_time(at)))
                continue
            except _TYPED_REFUSALS:
                refused += 1
        item = _decode_line(name, number, line, newline)
        if item is None:
            skipped.append(len(items))
        else:
            append(item)

    def where(index: int) -> str:
        return f"{name}:{lines_before + 1 + index + bisect_right(skipped, index)}"

    return _Block(items, where, size), refused


def _event_time(text: str) -> int:
    """An ``occurred_at`` string the typed decoder read: its epoch ms when in range, else
    ``ValueError`` (then the reference path names the fault)."""
    at = parse_rfc3339_ms(text)
    if in_event_range(at):
        return at
    raise ValueError(text)


def _decode_line(name: str, number: int, line: bytes, newline: bool,
                 ) -> Event | BadRecord | AccountRecord | None:
    """The reference decoding of one line: orjson, then :func:`event_from_mapping`; ``None``
    for a blank line. A bad line's message is the one it gets decoded on its own, with its
    newline as the file holds it."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        if not line.strip():
            return None
        return BadRecord(f"{name}:{number}", _json_error(line + b"\n" if newline else line))
    if type(record) is not dict:
        return BadRecord(f"{name}:{number}", "a line must hold one JSON object")
    if record.get("type") in ACCOUNT_EVENT_TYPES:  # money: validated by jobs.replay_money
        return AccountRecord(f"{name}:{number}", record)
    try:
        return event_from_mapping(record)
    except InvalidEvent as error:
        return BadRecord(f"{name}:{number}", error.args[0])


def _json_error(line: bytes) -> str:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError as error:
        return f"not valid JSON ({error})"
    return "not valid JSON"  # pragma: no cover - the line failed to decode once already


def replay(
    paths: list[str],
    biller: BatchBiller,
    *,
    skip_invalid: bool = False,
    errors: IO[str] = sys.stderr,
    progress: bool = False,
    account: Callable[[AccountRecord], None] | None = None,
) -> Iterator[Billed]:
    """Bill every event of ``paths``; raises :class:`BadRecord` on the first bad record
    unless ``skip_invalid``, in which case it reports each on ``errors`` and goes on.
    Account events go to ``account`` (ignored without it), never counted as bad here."""
    stats = ReplayStats()
    bar = _progress_bar(paths) if progress else None
    add = biller.add
    try:
        for path in paths:
            stats.files += 1
            with _open_input(path) as stream:
                for block in _read_blocks(path, stream):
                    if bar is not None and path != "-":
                        bar.update(block.size)
                    for index, item in enumerate(block.items):
                        if item.__class__ is BadRecord:
                            bad: BadRecord = item  # type: ignore[assignment]
                        elif item.__class__ is AccountRecord:
                            if account is not None:
                                account(item)  # type: ignore[arg-type]
                            continue
                        else:
                            try:
                                billed = add(item)  # type: ignore[arg-type]
                            except LateEvent as error:
                                bad = BadRecord(block.where(index), f"{error} (raise "
                                                "--max-disorder or sort the input to bill it)")
                            else:
                                if billed:
                                    yield from billed
                                continue
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
    from tqdm import tqdm

    total = sum(os.path.getsize(p) for p in paths if p != "-")
    if total < _PROGRESS_MIN_BYTES:
        return None
    return tqdm(total=total, unit="B", unit_scale=True, desc="replay", file=sys.stderr)


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
    parser.add_argument("--timeout",
                        help="default inactivity timeout T (5m..14d; default BOTBILL_TIMEOUT, "
                             "else 15m)")
    parser.add_argument("--bot-timeout", action="append", default=[], metavar="BOT=DURATION",
                        help="inactivity timeout for one bot (repeatable), over "
                             "BOTBILL_BOT_TIMEOUTS")
    parser.add_argument("--max-disorder",
                        help="how far (event time) input may be out of order; an event "
                             "further behind is refused as late. Bounds memory (default "
                             "BOTBILL_MAX_DISORDER, else unbounded: any order is billed exactly)")
    parser.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                        help="progress bar on stderr (auto: when stderr is a terminal)")
    replay_money.add_arguments(parser)
    return parser


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Billing creates no reference cycles: reference counting frees all it allocates. The
    cyclic collector would only walk the open conversations' events again and again (a
    fifth of the run time), so it is off while the command bills."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = BillingSettings.from_env(os.environ, timeout=args.timeout,
                                            bot_timeouts=args.bot_timeout,
                                            max_disorder=args.max_disorder)
        money = replay_money.from_args(args)
    except (ValueError, BotbillError) as error:
        print(f"botbill replay: {error}", file=sys.stderr)
        return 2
    biller = BatchBiller(settings.policy, settings.max_disorder_ms)
    progress = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())
    counts: Counter[tuple[str, str, str, str]] = Counter()
    out: IO[bytes] = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115
    write_rows = bool(args.output) or not args.summary
    dumps, row_options = orjson.dumps, orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
    try:
        with _cyclic_gc_paused():
            for billed in replay(args.events, biller, skip_invalid=args.skip_invalid,
                                 progress=progress, account=money and money.add_record):
                if money is not None:
                    money.add_session(billed)
                if write_rows:
                    out.write(dumps(to_row(billed), option=row_options))
                if args.summary:
                    kind = "alert" if isinstance(billed, AlertSession) else "usage"
                    counts[billed.account_id, billed.bot_id,
                           billing_month(billed).isoformat()[:7], kind] += 1
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
    if money is not None:
        try:
            money.finish(biller.watermark)
        except OSError as error:
            print(f"botbill replay: {error}", file=sys.stderr)
            return 1
    if args.summary:
        sys.stdout.write(_summary_table(counts))
    return 0
