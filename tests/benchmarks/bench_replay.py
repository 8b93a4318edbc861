"""Throughput and memory of ``botbill replay`` on a realistic input (not part of the suite).

    python tests/benchmarks/bench_replay.py [--events N] [--days D] [--runs R] [--keep FILE]

Generates a JSON Lines file of about N events (default 200 000) over D days (default 60):
conversations of 3-30 events with chatty gaps and a few long pauses, handoffs, test traffic,
redeliveries, per-bot 8-hourly alerts, in time order with a few minutes of disorder. Then
runs the whole command, ``streams.replay.main([FILE, "-o", os.devnull])`` (decode, bill,
encode and write the rows), R times (default 3), each in a fresh subprocess, and prints the
best run: events/s by wall clock and by CPU time (the second is steadier on a shared
machine), peak RSS (``VmHWM``) and the most conversations open at once.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
START_MS = 1_788_220_800_000  # 2026-09-01T00:00:00Z


def _iso(epoch_ms: int) -> str:
    seconds, ms = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def generate(path: Path, events: int, days: int, seed: int) -> int:
    """Write about ``events`` events; return how many lines were written."""
    rng = random.Random(seed)
    bots = [f"bot-{n}" for n in range(40)]
    span = days * DAY
    records: list[tuple[int, dict[str, Any]]] = []
    serial = 0

    def add(at: int, record: dict[str, Any]) -> None:
        nonlocal serial
        serial += 1
        record["event_id"] = f"ev-{serial}"
        record["occurred_at"] = at
        records.append((at + rng.randint(0, 3 * MINUTE), record))  # a little disorder
        if rng.random() < 0.01:  # producer retry
            records.append((at + rng.randint(0, 10 * MINUTE), dict(record)))

    for number, bot in enumerate(bots):  # an 8-hourly report per bot
        for at in range(START_MS + number * MINUTE, START_MS + span, 8 * HOUR):
            add(at, {"type": "alert_delivered", "account_id": f"acct-{number % 7}",
                     "bot_id": bot, "alert_id": "report", "user_id": "u-ops",
                     "channel": "email"})
    conversation = 0
    while len(records) < events:
        conversation += 1
        bot = rng.choice(bots)
        base = {"account_id": f"acct-{bots.index(bot) % 7}", "bot_id": bot,
                "conversation_id": f"conv-{conversation}", "user_id": f"u-{conversation}",
                "channel": rng.choice(("web", "whatsapp", "sms")),
                "is_test": rng.random() < 0.02}
        at = START_MS + rng.randrange(span)
        handoff: str | None = None
        for turn in range(rng.randint(3, 30)):
            at += rng.choice((rng.randint(2, 120), rng.randint(2, 120), rng.randint(60, 1500)))
            at += rng.randint(0, 999)
            if turn and rng.random() < 0.05:
                if handoff is None:
                    handoff = f"h-{conversation}-{turn}"
                    add(at, {**base, "type": "agent_handoff", "handoff_id": handoff,
                             "phase": "STARTED", "agent_id": "agent-1"})
                else:
                    add(at, {**base, "type": "agent_handoff", "handoff_id": handoff,
                             "phase": "ENDED", "agent_id": "agent-1"})
                    handoff = None
                continue
            speaker = "USER" if turn % 2 == 0 else ("AGENT" if handoff else "BOT")
            add(at, {**base, "type": "conversation_turn", "speaker": speaker})
    records.sort(key=lambda pair: pair[0])
    with path.open("wb") as out:
        for _, record in records:
            record["occurred_at"] = _iso(record["occurred_at"])
            out.write(orjson.dumps(record) + b"\n")
    return len(records)


def run(path: str, max_disorder: str) -> dict[str, Any]:
    """``botbill replay PATH -o /dev/null`` in this process; time, peak RSS, open conversations."""
    from botbill.billing_rules.batch import BatchBiller
    from botbill.streams import replay

    class Watched(BatchBiller):
        """Counts open conversations where one opens, not per event: nothing to slow down."""

        most_open = 0

        def _check_and_open(self, *args: Any) -> Any:
            conversation = super()._check_and_open(*args)
            self.most_open = max(self.most_open, len(self._open))
            return conversation

    if not hasattr(BatchBiller, "_check_and_open"):  # an older biller: count per event
        class Watched(BatchBiller):  # type: ignore[no-redef]
            most_open = 0

            def add(self, event: Any) -> Any:
                billed = super().add(event)
                self.most_open = max(self.most_open, len(self._open))
                return billed

    billers: list[Watched] = []

    def make_biller(*args: Any) -> Watched:
        billers.append(Watched(*args))
        return billers[-1]

    replay.BatchBiller = make_biller  # type: ignore[assignment,misc]
    before_mb = _peak_rss_mb()
    began, began_cpu = time.perf_counter(), time.process_time()
    status = replay.main([path, "-o", os.devnull, "--max-disorder", max_disorder])
    elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    (biller,) = billers
    counters = biller.counters
    return {"status": status, "events": counters.events,
            "rows": counters.usage_sessions + counters.alert_sessions, "seconds": elapsed,
            "cpu_seconds": cpu, "peak_rss_mb": _peak_rss_mb(), "start_rss_mb": before_mb,
            "most_open": biller.most_open,
            "typed_decoder": getattr(replay, "_typed", None) is not None}


def _peak_rss_mb() -> float:
    """This process's peak RSS: ``VmHWM`` on Linux (``ru_maxrss`` keeps the parent's peak
    across fork and exec), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3, help="measured runs; the best is shown")
    parser.add_argument("--max-disorder", default="35d",
                        help="replay's --max-disorder (35d bounds memory; the input "
                             "holds ~10 min of disorder)")
    parser.add_argument("--keep", type=Path, help="keep the generated file here")
    parser.add_argument("--input", type=Path, help="measure this file instead of generating one")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # internal: the measured child
    parser.add_argument("--generate", help=argparse.SUPPRESS)  # internal: the generator
    args = parser.parse_args(argv)
    if args.run:
        print(json.dumps(run(args.run, args.max_disorder)))
        return 0
    if args.generate:
        print(generate(Path(args.generate), args.events, args.days, args.seed))
        return 0
    with tempfile.TemporaryDirectory() as folder:
        path = args.input or args.keep or Path(folder) / "events.jsonl"
        generated = ""
        if not args.input:
            began = time.perf_counter()
            subprocess.run(  # in a child, so that its memory stays out of the figures
                [sys.executable, __file__, "--generate", str(path), "--events",
                 str(args.events), "--days", str(args.days), "--seed", str(args.seed)],
                capture_output=True, text=True, check=True)
            generated = f", {args.days} days, generated in {time.perf_counter() - began:.1f}s"
        results = []
        for _ in range(max(1, args.runs)):
            child = subprocess.run(
                [sys.executable, __file__, "--run", str(path), "--max-disorder",
                 args.max_disorder], capture_output=True, text=True, check=True)
            results.append(json.loads(child.stdout))
        size_mb = path.stat().st_size / 1e6
    best = min(results, key=lambda r: r["cpu_seconds"])
    assert best["status"] == 0, best
    events = best["events"]
    decoder = "msgspec typed decoder" if best["typed_decoder"] else "orjson (no msgspec)"
    print(f"replay: {events} events ({size_mb:.0f} MB{generated}) -> {best['rows']} rows, "
          f"best of {len(results)} runs: {best['seconds']:.2f}s wall = "
          f"{events / best['seconds']:,.0f} events/s, {best['cpu_seconds']:.2f}s CPU = "
          f"{events / best['cpu_seconds']:,.0f} events/s; peak RSS {best['peak_rss_mb']:.0f} "
          f"MB (at start {best['start_rss_mb']:.0f} MB); max open conversations "
          f"{best['most_open']}; {decoder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
