"""``botbill demo``: the main job, end to end on generated traffic.

Starts the local stack, migrates ClickHouse, creates the topics, starts a worker, sends
generated traffic (paced, event time running ``--speedup`` times faster than the clock),
waits until the worker has written everything, then prints per bot the usage and alert
sessions read from ClickHouse next to ``replay`` over the same events; then, as of ``T`` (the
traffic's latest event time), per bot its plan, status and balance from ``balances export``
next to ``replay --balances``, and each invoice from ``invoices export`` next to ``replay
--invoices`` (:mod:`streams.demo_money`; the traffic registers every bot, on a mix of plans,
and places an order, grants credits and upgrades a plan). They must agree; the exit code says
whether they did.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

from botbill.billing_rules.batch import BatchBiller
from botbill.billing_rules.sessions import AlertSession, UsageSession
from botbill.billing_rules.settings import BillingSettings
from botbill.billing_rules.timeutil import MINUTE_MS, format_ms
from botbill.jobs.replay_money import MoneyReplay

from . import demo_money

__all__ = ["main"]

Totals = Counter[tuple[str, str, str]]


def _say(text: str) -> None:
    print(f"[demo] {text}", file=sys.stderr, flush=True)


def _totals(sessions: list[UsageSession | AlertSession]) -> Totals:
    totals: Totals = Counter()
    for s in sessions:
        kind = "alert" if isinstance(s, AlertSession) else "usage"
        totals[s.account_id, s.bot_id, kind] += 1
    return totals


def _replay(path: Path, settings: BillingSettings, money: MoneyReplay | None = None,
            ) -> list[UsageSession | AlertSession]:
    """``replay`` with the settings the worker bills with (the same environment); with
    ``money``, also ``--as-of T --balances --invoices`` (as ``replay``'s command line does)."""
    from .replay import replay

    biller = BatchBiller(settings.policy, settings.max_disorder_ms)
    billed = list(replay([str(path)], biller, account=money and money.add_record))
    if money is not None:
        for session in billed:
            money.add_session(session)
        money.finish(biller.watermark)
    return billed


def _clickhouse(url: str, prefix: str) -> list[UsageSession | AlertSession]:
    from botbill.sinks.connection import connect
    from botbill.sinks.queries import billed_sessions

    client = connect(url)
    try:
        return [s for s in billed_sessions(client) if s.account_id.startswith(prefix)]
    finally:
        client.disconnect()


def _health(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return response.read().decode()
    except OSError as error:
        return str(error)


def _wait_until_written(url: str, prefix: str, expected: Totals, timeout: float,
                        worker: subprocess.Popen[bytes], log: Path) -> list:
    """Poll ClickHouse until it holds what replay billed, or stops changing for a while."""
    deadline = time.monotonic() + timeout
    previous: Totals | None = None
    stable_since = time.monotonic()
    while True:
        _check_alive(worker, log)
        sessions = _clickhouse(url, prefix)
        totals = _totals(sessions)
        if totals == expected:
            return sessions
        if totals != previous:
            previous, stable_since = totals, time.monotonic()
        elif time.monotonic() - stable_since > 60 or time.monotonic() > deadline:
            return sessions
        time.sleep(2)


def _wait_for_account_events(url: str, prefix: str, expected: int, timeout: float,
                             worker: subprocess.Popen[bytes], log: Path) -> int:
    """Poll ClickHouse until the sink has archived every account event sent."""
    from botbill.sinks.connection import connect

    deadline = time.monotonic() + timeout
    while True:
        _check_alive(worker, log)
        client = connect(url)
        try:
            archived = demo_money.archived_account_events(client, prefix)
        finally:
            client.disconnect()
        if archived >= expected or time.monotonic() > deadline:
            return archived
        time.sleep(1)


def _traffic_start(url: str, args: argparse.Namespace) -> int:
    """Event time ends when sending ends, unless an earlier run went further: then it starts
    just after that run's latest event, so a rerun within the span is never late (behind the
    watermark the worker kept) and bills in full."""
    from botbill.sinks.connection import connect

    span_ms = int(args.duration * 1000 * args.speedup)
    start = int(time.time() * 1000) - span_ms + int(args.duration * 1000)
    client = connect(url)
    try:
        latest = int(client.execute("SELECT max(occurred_at) FROM raw_events")[0][0])
    finally:
        client.disconnect()
    if latest + MINUTE_MS > start:
        _say(f"an earlier run reached {format_ms(latest)} (event time): this one starts after it")
        return latest + MINUTE_MS
    return start


def _check_alive(worker: subprocess.Popen[bytes], log: Path) -> None:
    if worker.poll() is not None:
        tail = log.read_text(errors="replace").splitlines()[-20:]
        raise SystemExit("[demo] the worker stopped (exit code "
                         f"{worker.returncode}); last lines of {log}:\n" + "\n".join(tail))


def _table(clickhouse: Totals, replayed: Totals) -> tuple[str, bool]:
    keys = sorted({(a, b) for a, b, _ in clickhouse} | {(a, b) for a, b, _ in replayed})
    header = ("account", "bot", "usage (ClickHouse)", "usage (replay)", "alerts (ClickHouse)",
              "alerts (replay)", "")
    rows = [header]
    agree = True
    for account, bot in keys:
        cells = [clickhouse[account, bot, "usage"], replayed[account, bot, "usage"],
                 clickhouse[account, bot, "alert"], replayed[account, bot, "alert"]]
        same = cells[0] == cells[1] and cells[2] == cells[3]
        agree &= same
        rows.append((account, bot, *map(str, cells), "ok" if same else "DIFFERENT"))
    rows.append(("total", "", *(str(sum(r[i] for r in [
        [clickhouse[a, b, "usage"], replayed[a, b, "usage"], clickhouse[a, b, "alert"],
         replayed[a, b, "alert"]] for a, b in keys])) for i in range(4)),
        "ok" if agree else "DIFFERENT"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    text = "\n".join("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True)))
                     for r in rows)
    return text, agree


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="botbill demo", description=__doc__)
    parser.add_argument("--rate", type=float, default=1500, help="events per second")
    parser.add_argument("--duration", type=float, default=20, help="seconds of traffic")
    parser.add_argument("--speedup", type=float, default=120,
                        help="event time runs this much faster than the clock")
    parser.add_argument("--keep-running", action="store_true",
                        help="leave the worker running afterwards (metrics stay up)")
    args = parser.parse_args(argv)

    from botbill.deploy import stack
    from botbill.jobs.catalog_file import load_catalog
    from botbill.sinks.connection import connect
    from botbill.sinks.migrations import migrate

    from .settings import WorkerSettings
    from .topics import create_topics

    _say("starting Kafka and ClickHouse on 127.0.0.1 (first run downloads and installs)")
    found = stack.up()
    # the worker, `produce` and the reads below talk to the stack just started (its ports
    # follow BOTBILL_KAFKA_PORT etc.), unless the URLs are set explicitly
    os.environ.setdefault("BOTBILL_KAFKA_BOOTSTRAP", found.kafka_bootstrap)
    os.environ.setdefault("BOTBILL_CLICKHOUSE_URL", f"clickhouse://default@{found.clickhouse_host}"
                                                    f":{found.clickhouse_port}/botbill")
    settings = WorkerSettings.from_env()
    client = connect(settings.clickhouse_url, create_database=True)
    applied = migrate(client)
    client.disconnect()
    _say(f"ClickHouse {settings.clickhouse_url}, Kafka {settings.bootstrap}; schema: "
         f"{', '.join(applied) if applied else 'up to date'}")
    create_topics()
    _say("topics ready")
    run = time.strftime("run%Y%m%d%H%M%S-")
    home = Path(os.environ.get("BOTBILL_HOME", ".botbill"))
    home.mkdir(parents=True, exist_ok=True)
    worker_log = home / "demo-worker.log"
    with open(worker_log, "ab") as log:
        worker = subprocess.Popen([sys.executable, "-m", "botbill", "worker"],
                                  stdout=log, stderr=subprocess.STDOUT)
    _say(f"worker started (pid {worker.pid}, log {worker_log}); metrics on "
         f"http://127.0.0.1:{settings.metrics_port}/metrics")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            events = Path(tmp) / "events.jsonl"
            _say(f"sending ~{int(args.rate * args.duration)} generated events over "
                 f"{args.duration:.0f}s (accounts {run}acct-*)")
            _check_alive(worker, worker_log)
            start = _traffic_start(settings.clickhouse_url, args)
            subprocess.run([sys.executable, "-m", "botbill", "produce",
                            "--rate", str(args.rate), "--duration", str(args.duration),
                            "--speedup", str(args.speedup), "--account-prefix", run,
                            "--start", format_ms(start), "--save", str(events)], check=True)
            traffic = demo_money.sent(events)
            money = MoneyReplay(load_catalog(None), as_of=traffic.latest_ms,
                                balances=str(Path(tmp) / "balances.jsonl"),
                                invoices=str(Path(tmp) / "invoices.jsonl"))
            replayed = _replay(events, BillingSettings.from_env(os.environ), money)
            replayed_balances = demo_money.read_rows(Path(tmp) / "balances.jsonl")
            replayed_invoices = demo_money.read_rows(Path(tmp) / "invoices.jsonl")
        expected = _totals(replayed)
        _say("waiting for the worker to write everything to ClickHouse")
        written = _wait_until_written(settings.clickhouse_url, run, expected, 600, worker,
                                      worker_log)
        text, agree = _table(_totals(written), expected)
        print(f"\nBilled sessions per bot, streaming (ClickHouse) next to replay "
              f"(same events):\n\n{text}\n")
        archived = _wait_for_account_events(settings.clickhouse_url, run,
                                            len(traffic.account_event_ids), 120, worker,
                                            worker_log)
        _say(f"{archived} of {len(traffic.account_event_ids)} account events archived")
        url, as_of = settings.clickhouse_url, traffic.as_of
        text, same = demo_money.balances_table(
            demo_money.exported_balances(url, traffic.accounts, as_of), replayed_balances)
        agree &= same
        print(f"Plan, status and balance per bot as of {as_of}, `balances export` "
              f"(ClickHouse) next to `replay --balances`:\n\n{text}\n")
        text, same = demo_money.invoices_lines(
            demo_money.exported_invoices(url, traffic.accounts, as_of), replayed_invoices)
        agree &= same
        print(f"Invoices as of {as_of}, `invoices run` + `invoices export` (ClickHouse) next "
              f"to `replay --invoices`:\n\n{text}\n")
        print(f"worker health: {_health(settings.metrics_port)}")
        print(f"metrics: http://127.0.0.1:{settings.metrics_port}/metrics "
              f"(health: /health; stack: `botbill stack status`)")
        print("ClickHouse and replay AGREE" if agree else "ClickHouse and replay DISAGREE")
        return 0 if agree else 1
    finally:
        if not args.keep_running:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
