"""The money jobs on a schedule, inside ``botbill worker``: every ``BOTBILL_JOBS_INTERVAL``
seconds (default 300; ``0`` turns it off) a background thread runs ``plan-status`` as of now,
then ``invoices run`` for the previous and the current month as of now.

``BOTBILL_JOBS_AS_OF`` (RFC 3339) starts the schedule's clock at that instant instead of the
wall clock's; it then runs on in real time. For tests, demos and a rerun of a past day: a
worker whose API and events live at a fixed date computes what that date's admin would see,
and each tick's ``T`` still grows, so a later tick's rows replace an earlier one's.

Why in the worker and not in cron: the worker is the one process a deployment always runs,
and both jobs are idempotent recomputes (a tick that fails, or two workers ticking at once,
write the same rows), so no scheduler and no lock is needed. A deployment that prefers cron
sets ``BOTBILL_JOBS_INTERVAL=0`` and runs, e.g. every five minutes::

    */5 * * * *  botbill plan-status && botbill invoices run --month "$(date -u +%Y-%m)"
    0 */6 * * *  botbill invoices run --month "$(date -u -d 'last month' +%Y-%m)"

Cost: each tick recomputes every bot from its whole history (see :mod:`jobs.money_data`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from botbill.billing_rules.calendar import month_key, month_text
from botbill.billing_rules.timeutil import parse_rfc3339_ms

from ._cli import now_ms
from .catalog_file import load_catalog
from .invoicing import run_invoices
from .money_data import recompute
from .plan_status import run_plan_status

__all__ = ["AS_OF_ENV", "INTERVAL_ENV", "jobs_clock", "jobs_interval", "run_once",
           "start_schedule"]

INTERVAL_ENV = "BOTBILL_JOBS_INTERVAL"
AS_OF_ENV = "BOTBILL_JOBS_AS_OF"
DEFAULT_INTERVAL = 300.0
log = logging.getLogger(__name__)


def jobs_interval(env: dict[str, str] | None = None) -> float:
    """Seconds between ticks (``0``: off); raises ``ValueError`` for a bad setting, this
    one's or ``BOTBILL_JOBS_AS_OF``'s (the worker checks its settings with this call)."""
    jobs_clock(env)
    text = (os.environ if env is None else env).get(INTERVAL_ENV, "")
    value = float(text) if text.strip() else DEFAULT_INTERVAL
    if value < 0:
        raise ValueError(f"{INTERVAL_ENV} must be >= 0 seconds, got {text!r}")
    return value


def jobs_clock(env: dict[str, str] | None = None,
               wall: Callable[[], int] = now_ms) -> Callable[[], int]:
    """The schedule's clock: ``wall``, or, with ``BOTBILL_JOBS_AS_OF`` set, one that starts at
    that instant and advances with ``wall``; raises ``ValueError`` for a bad setting."""
    text = (os.environ if env is None else env).get(AS_OF_ENV, "").strip()
    if not text:
        return wall
    try:
        offset = parse_rfc3339_ms(text) - wall()
    except ValueError as error:
        raise ValueError(f"{AS_OF_ENV} must be an RFC 3339 instant, got {text!r}: "
                         f"{error}") from None
    return lambda: wall() + offset


_reported: set[str] = set()


def _report_once(label: str, reason: str) -> None:
    """A malformed archived event is logged the first time a tick meets it, not every tick."""
    if label not in _reported:
        _reported.add(label)
        log.warning("skipped %s: %s", label, reason)


def run_once(client: Any, as_of: int) -> None:
    """One tick, one recompute: plan status, then the invoices of the previous and current
    month."""
    catalog = load_catalog()
    found = recompute(client, catalog, as_of, report=_report_once)
    run_plan_status(client, catalog, as_of, found=found)
    month = month_key(as_of)
    run_invoices(client, catalog, as_of, months=[month_text(month - 1), month_text(month)],
                 found=found)


def start_schedule(interval: float, connect: Callable[[], Any],
                   clock: Callable[[], int] | None = None) -> threading.Event | None:
    """Start the daemon thread (none when ``interval`` is 0); set the returned event to stop
    it. A failing tick is logged and retried at the next one: it never stops the worker.
    ``clock`` defaults to :func:`jobs_clock`."""
    if interval <= 0:
        return None
    tick_clock = clock or jobs_clock()
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                client = connect()
                try:
                    run_once(client, tick_clock())
                finally:
                    client.disconnect()
            except Exception:
                log.exception("money jobs tick failed; next in %.0fs", interval)
            stop.wait(interval)

    threading.Thread(target=loop, name="botbill-money-jobs", daemon=True).start()
    return stop
