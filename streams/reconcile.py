"""``botbill reconcile --from DAY --to DAY [--repair]``: re-run the rules over the raw events
archived in ClickHouse and compare with the billed sessions stored there (BILLING_RULES §4).

Reports every difference as JSON Lines (``"difference": "missing" | "extra"`` plus the
session's §3 row); ``--repair`` writes the corrections (revision one above the stored one),
after which a second run finds nothing. Reconcile periods whose visits have closed (older
than ``T + grace``): an open visit is still the stream's to change.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime, timedelta
from typing import IO

import orjson

from botbill.billing_rules.batch import BatchBiller
from botbill.billing_rules.events import event_from_mapping
from botbill.billing_rules.exceptions import BotbillError
from botbill.billing_rules.periods import billing_day
from botbill.billing_rules.reconcile import compare, corrections
from botbill.billing_rules.sessions import AlertSession, SessionChange, UsageSession, to_row
from botbill.billing_rules.settings import BillingSettings
from botbill.billing_rules.timeutil import parse_duration_ms

__all__ = ["main", "reconcile"]

Billed = UsageSession | AlertSession


def _day_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def expected_sessions(client: object, settings: BillingSettings, day_from: date, day_to: date,
                      margin_ms: int, account: str | None, bot: str | None) -> list[Billed]:
    """What the rules bill, from the archived events around the period (they come back in
    time order, so nothing is late)."""
    from botbill.sinks.queries import raw_events

    start, end = _day_ms(day_from), _day_ms(day_to + timedelta(days=1))
    biller = BatchBiller(settings.policy, settings.max_disorder_ms)
    billed: list[Billed] = []
    for record in raw_events(client, start_ms=start - margin_ms,  # type: ignore[arg-type]
                             end_ms=end + margin_ms):
        billed.extend(biller.add(event_from_mapping(record)))
    billed.extend(biller.finish())
    return [s for s in billed if day_from <= billing_day(s) <= day_to
            and (account is None or s.account_id == account)
            and (bot is None or s.bot_id == bot)]


def reconcile(url: str, day_from: date, day_to: date, *, settings: BillingSettings,
              margin_ms: int, account: str | None = None, bot: str | None = None,
              repair: bool = False, out: IO[bytes] = sys.stdout.buffer) -> int:
    """Returns the number of differences found (before any repair)."""
    from botbill.sinks.clickhouse import ClickHouseStore
    from botbill.sinks.connection import connect
    from botbill.sinks.queries import billed_sessions, snapshot_revisions, usage_revisions
    from botbill.sinks.store import SinkBatch

    client = connect(url)
    try:
        expected = expected_sessions(client, settings, day_from, day_to, margin_ms, account, bot)
        actual = list(billed_sessions(client, account=account, bot=bot,
                                      day_from=day_from, day_to=day_to))
        difference = compare(expected, actual)
        for kind, sessions in (("missing", difference.missing), ("extra", difference.extra)):
            for session in sessions:
                out.write(orjson.dumps({"difference": kind, **to_row(session)},
                                       option=orjson.OPT_SORT_KEYS) + b"\n")
        if repair and not difference.empty:
            conversations = [s.conversation_id for s in (*difference.missing, *difference.extra)
                             if isinstance(s, UsageSession)]
            changes, alerts = corrections(difference, usage_revisions(client, conversations))
            # above the conversation's newest snapshot too, or the export would supersede it
            newest = snapshot_revisions(client, conversations)
            changes = [SessionChange(c.session, max(c.revision,
                                                    newest.get(c.session.identity[:3], 0) + 1),
                                     c.voided) for c in changes]
            with ClickHouseStore(url) as store:
                store.write_batch(SinkBatch(usage_changes=changes, alert_sessions=alerts))
    finally:
        client.disconnect()
    return len(difference.missing) + len(difference.extra)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="botbill reconcile", description=__doc__)
    parser.add_argument("--from", dest="day_from", required=True, type=date.fromisoformat)
    parser.add_argument("--to", dest="day_to", required=True, type=date.fromisoformat)
    parser.add_argument("--account")
    parser.add_argument("--bot")
    parser.add_argument("--repair", action="store_true", help="write the corrections")
    parser.add_argument("--timeout", help="default inactivity timeout T (default: "
                        "BOTBILL_TIMEOUT, else 15m)")
    parser.add_argument("--bot-timeout", action="append", default=[], metavar="BOT=DURATION",
                        help="inactivity timeout for one bot, over BOTBILL_BOT_TIMEOUTS")
    parser.add_argument("--margin", default="2d",
                        help="archived events read before and after the period (default 2d)")
    parser.add_argument("--url", default=os.environ.get("BOTBILL_CLICKHOUSE_URL"))
    args = parser.parse_args(argv)
    try:
        settings = BillingSettings.from_env(os.environ, timeout=args.timeout,
                                            bot_timeouts=args.bot_timeout)
        found = reconcile(args.url, args.day_from, args.day_to, settings=settings,
                          margin_ms=parse_duration_ms(args.margin), account=args.account,
                          bot=args.bot, repair=args.repair)
    except (BotbillError, ValueError) as error:
        print(f"botbill reconcile: {error}", file=sys.stderr)
        return 2
    verb = "repaired" if args.repair else "found"
    print(f"botbill reconcile: {found} difference(s) {verb} for {args.day_from}..{args.day_to}",
          file=sys.stderr)
    return 0 if found == 0 or args.repair else 1
