"""Chaos drill: the streaming pipeline must bill exactly as ``botbill replay`` through worker
restarts (SIGTERM) and crashes (SIGKILL) at random moments, a ClickHouse outage, a Kafka
restart and a rebalance 1 -> 2 -> 1 workers, all while traffic flows. After every step the
finance export (``botbill sessions export``) is compared with ``replay`` of everything sent
so far, row for row; the first difference stops the drill with the rows that differ.

Run on demand, against the stack of ``$BOTBILL_HOME`` (it stops and starts that stack's
services: never point it at a stack others use)::

    python tests/chaos/chaos.py                 # the full drill (20 SIGTERM, 20 SIGKILL, ...)
    python tests/chaos/chaos.py --short         # a few minutes; what `.ci/run` runs
    python tests/chaos/chaos.py --sigterm 5 --sigkill 5 --outage 20 --seed 7

Every run has its own topic prefix, app id and database (``tests/e2e/pipeline.py``), removed
at the end unless ``--keep``. Exit status 0 means every comparison was exact.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from botbill.billing_rules.timeutil import MINUTE_MS, parse_rfc3339_ms  # noqa: E402
from botbill.deploy.stack import start_service, stop_service, up  # noqa: E402
from botbill.streams.traffic import generate_events  # noqa: E402
from tests.e2e.pipeline import (  # noqa: E402
    Pipeline,
    PipelineFailed,
    _botbill,
    _free_port,
    normalized,
    write_events,
)

START = parse_rfc3339_ms("2026-10-01T00:00:00.000Z")
CHUNK_SPAN_MS = 20 * MINUTE_MS  # event time covered by one step's traffic


class Drill:
    """One pipeline, its traffic so far, and the checks."""

    def __init__(self, pipeline: Pipeline, work: Path, seed: int, chunk: int) -> None:
        self.pipeline = pipeline
        self.work = work
        self.rng = random.Random(seed)
        self.seed = seed
        self.chunk = chunk
        self.sent: list[dict[str, Any]] = []
        self.step = 0
        self.extra: subprocess.Popen[bytes] | None = None  # a second worker

    # -- traffic -----------------------------------------------------------------------

    def next_chunk(self) -> Path:
        """The next slice of event time, as a file (events in time order, ids unique)."""
        start = START + self.step * CHUNK_SPAN_MS
        events = [{**e, "account_id": f"chaos{self.seed}-{e['account_id']}",
                   "event_id": f"s{self.step}-{e['event_id']}"}
                  for e in generate_events(seed=self.seed * 1000 + self.step, start_ms=start,
                                           count=self.chunk, span_ms=CHUNK_SPAN_MS)]
        self.step += 1
        self.sent.extend(events)
        return write_events(self.work / f"chunk{self.step}.jsonl", events)

    def produce_async(self, path: Path) -> threading.Thread:
        thread = threading.Thread(target=self.pipeline.produce_file, args=(path,))
        thread.start()
        return thread

    # -- the check ---------------------------------------------------------------------

    def check(self, what: str, timeout: float = 240.0) -> None:
        """Wait until the export equals ``replay`` of everything sent so far."""
        everything = write_events(self.work / "sent.jsonl", self.sent)
        want = normalized(self.pipeline.replay(everything))
        started = time.monotonic()
        self.supervise()
        last: list[str] = []
        while time.monotonic() - started < timeout:
            self.supervise()
            rows = self.pipeline.export()
            if rows is not None:
                last = normalized(rows)
                if last == want:
                    print(f"  ok   {what}: {len(want)} rows equal replay "
                          f"({time.monotonic() - started:.0f}s)", flush=True)
                    return
            time.sleep(2.0)
        missing, extra = sorted(set(want) - set(last)), sorted(set(last) - set(want))
        raise PipelineFailed(f"{what}: export differs from replay after {timeout:.0f}s: "
                             f"{len(missing)} missing {missing[:3]}, {len(extra)} unexpected "
                             f"{extra[:3]}; log {self.pipeline.log_path}")

    def supervise(self) -> None:
        """Restart a worker that died (as a process supervisor would), saying so."""
        worker = self.pipeline.worker
        if worker is not None and worker.poll() is not None:
            print(f"  note the worker exited ({worker.returncode}); restarting it", flush=True)
            self.pipeline.worker = None
            self.pipeline.start_worker()

    # -- the scenarios -----------------------------------------------------------------

    def restart(self, how: signal.Signals, label: str) -> None:
        """Traffic flows; the worker gets ``how`` at a random moment, then starts again."""
        producing = self.produce_async(self.next_chunk())
        time.sleep(self.rng.uniform(0.0, 3.0))
        self.pipeline.stop_worker(signal_to_send=how)
        producing.join()
        self.pipeline.start_worker()
        self.check(label)

    def clickhouse_outage(self, seconds: float) -> None:
        producing = self.produce_async(self.next_chunk())
        stop_service("clickhouse")
        time.sleep(seconds)
        producing.join()
        start_service("clickhouse")
        self.check(f"ClickHouse stopped {seconds:.0f}s during traffic")

    def kafka_restart(self) -> None:
        producing = self.produce_async(self.next_chunk())
        time.sleep(1.0)
        producing.join()
        stop_service("kafka")
        time.sleep(3.0)
        start_service("kafka")
        self.supervise()
        self.pipeline.produce_file(self.next_chunk())
        self.check("Kafka restarted during traffic")

    def rebalance(self) -> None:
        """1 -> 2 workers during traffic, then back to 1 (the second one leaves)."""
        producing = self.produce_async(self.next_chunk())
        env = {**self.pipeline.env, "BOTBILL_METRICS_PORT": str(_free_port()),
               "BOTBILL_HOME": str(self.work / "second")}
        with (self.work / "second-worker.log").open("ab") as log:
            self.extra = subprocess.Popen([*_botbill(), "worker"], env=env, cwd=REPO,
                                          stdout=log, stderr=subprocess.STDOUT)
        producing.join()
        self.pipeline.produce_file(self.next_chunk())
        self.check("rebalance to 2 workers")
        self.extra.send_signal(signal.SIGTERM)
        self.extra.wait(60)
        self.extra = None
        self.pipeline.produce_file(self.next_chunk())
        self.check("rebalance back to 1 worker")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true",
                        help="3 SIGTERM, 3 SIGKILL, a 20 s outage, Kafka restart, rebalance")
    parser.add_argument("--sigterm", type=int, help="clean restarts (default 20)")
    parser.add_argument("--sigkill", type=int, help="crashes (default 20)")
    parser.add_argument("--outage", type=float, help="seconds ClickHouse is down (60)")
    parser.add_argument("--chunk", type=int, default=400, help="events per step")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 10_000)
    parser.add_argument("--keep", action="store_true", help="keep topics and database")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["outage", "kafka", "rebalance"], help="leave a scenario out")
    args = parser.parse_args(argv)
    sigterm = args.sigterm if args.sigterm is not None else (3 if args.short else 20)
    sigkill = args.sigkill if args.sigkill is not None else (3 if args.short else 20)
    outage = args.outage if args.outage is not None else (20.0 if args.short else 60.0)

    stack = up()
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"botbill-chaos-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(work / "home", kafka_bootstrap=stack.kafka_bootstrap,
                        clickhouse_host=stack.clickhouse_host,
                        clickhouse_port=stack.clickhouse_port)
    drill = Drill(pipeline, work, args.seed, args.chunk)
    print(f"chaos: seed {args.seed}, work dir {work}, worker log {pipeline.log_path}",
          flush=True)
    steps: list[tuple[str, Callable[[], None]]] = []
    for i in range(sigterm):
        steps.append(("sigterm", lambda i=i: drill.restart(signal.SIGTERM,
                                                           f"SIGTERM restart {i + 1}")))
    for i in range(sigkill):
        steps.append(("sigkill", lambda i=i: drill.restart(signal.SIGKILL,
                                                           f"SIGKILL crash {i + 1}")))
    drill.rng.shuffle(steps)
    steps.insert(len(steps) // 2, ("outage", lambda: drill.clickhouse_outage(outage)))
    steps.insert(len(steps) // 3, ("kafka", drill.kafka_restart))
    steps.append(("rebalance", drill.rebalance))
    steps = [(name, step) for name, step in steps if name not in args.skip]
    started = time.monotonic()
    try:
        pipeline.start()
        pipeline.produce_file(drill.next_chunk())
        drill.check("steady traffic")
        for _, step in steps:
            step()
    except PipelineFailed as error:
        print(f"chaos: FAILED after {time.monotonic() - started:.0f}s: {error}", flush=True)
        return 1
    finally:
        if drill.extra is not None:
            drill.extra.kill()
        start_service("clickhouse")
        start_service("kafka")
        if not args.keep:
            pipeline.stop()
    print(f"chaos: every comparison exact ({len(steps) + 1} steps, {len(drill.sent)} events, "
          f"{time.monotonic() - started:.0f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
