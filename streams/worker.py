"""``botbill worker``: run the Faust worker (sessionizer, alert agent, ClickHouse sink,
balance agent), and the money jobs on a schedule (``plan-status``, ``invoices run``: see
``jobs.schedule``; ``BOTBILL_JOBS_INTERVAL``, default 300 s, 0 = off).

Settings come from the environment (:mod:`streams.settings`); ``/metrics`` and ``/health``
are served on 127.0.0.1:``BOTBILL_METRICS_PORT``.
"""

from __future__ import annotations

import argparse
import os
import sys

from botbill.billing_rules.exceptions import BotbillError
from botbill.jobs.schedule import jobs_interval, start_schedule
from botbill.sinks.connection import connect

from .settings import WorkerSettings

__all__ = ["main"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="botbill worker", description=__doc__)
    parser.add_argument("--loglevel", default=os.environ.get("BOTBILL_LOGLEVEL", "warn"))
    args = parser.parse_args(argv)
    try:
        settings = WorkerSettings.from_env()
        jobs_every = jobs_interval()
    except (BotbillError, ValueError) as error:
        print(f"botbill worker: bad setting: {error}", file=sys.stderr)
        return 2
    from .app import create_app  # Faust is heavy: import only for the worker

    try:
        app = create_app(settings)
    except BotbillError as error:  # e.g. a bad BOTBILL_CATALOG for the balance agent
        print(f"botbill worker: {error}", file=sys.stderr)
        return 2
    start_schedule(jobs_every, lambda: connect(settings.clickhouse_url))
    print(f"botbill worker: metrics on http://127.0.0.1:{settings.metrics_port}/metrics, "
          f"health on /health", file=sys.stderr, flush=True)
    sys.argv = ["botbill worker", "worker", "--loglevel", args.loglevel,
                "--web-host", "127.0.0.1", "--web-port", str(settings.metrics_port)]
    app.main()
    return 0
