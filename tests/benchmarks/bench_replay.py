"""Throughput and memory of ``botbill replay`` on a realistic input (not part of the suite).

    python tests/benchmarks/bench_replay.py [--events N] [--days D] [--keep FILE]

Generates a JSON Lines file of about N events (default 200 000) over D days (default 60):
conversations of 3-30 events with chatty gaps and a few long pauses, handoffs, test traffic,
redeliveries, per-bot 8-hourly alerts, in time order with a few minutes of disorder. Then
runs ``streams.replay.replay`` in a fresh subprocess (rows written with orjson to /dev/null)
and prints one line: events/s, peak RSS (``ru_maxrss``) and the most open conversations.
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
    """Replay ``path`` in this process; measure time, peak RSS and open conversations."""
    from billing_rules.batch import BatchBiller
    from billing_rules.sessions import to_row
    from billing_rules.timeutil import parse_duration_ms
    from streams.replay import replay

    class Watched(BatchBiller):
        most_open = 0

        def add(self, event: Any) -> Any:
            billed = super().add(event)
            self.most_open = max(self.most_open, len(self._open))
            return billed

    biller = Watched(max_disorder_ms=parse_duration_ms(max_disorder))
    before_mb = _peak_rss_mb()
    rows = 0
    began = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        for billed in replay([path], biller):
            sink.write(orjson.dumps(to_row(billed), option=orjson.OPT_SORT_KEYS) + b"\n")
            rows += 1
    elapsed = time.perf_counter() - began
    return {"events": biller.counters.events, "rows": rows, "seconds": elapsed,
            "peak_rss_mb": _peak_rss_mb(), "start_rss_mb": before_mb,
            "most_open": biller.most_open}


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
    parser.add_argument("--max-disorder", default="35d",
                        help="replay's --max-disorder (default 35d, as replay; the input "
                             "holds ~10 min of disorder)")
    parser.add_argument("--keep", type=Path, help="keep the generated file here")
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
        path = args.keep or Path(folder) / "events.jsonl"
        began = time.perf_counter()
        lines = int(subprocess.run(  # in a child, so that its memory stays out of the figures
            [sys.executable, __file__, "--generate", str(path), "--events", str(args.events),
             "--days", str(args.days), "--seed", str(args.seed)],
            capture_output=True, text=True, check=True).stdout)
        generated = time.perf_counter() - began
        child = subprocess.run(
            [sys.executable, __file__, "--run", str(path), "--max-disorder", args.max_disorder],
            capture_output=True, text=True, check=True)
        result = json.loads(child.stdout)
        size_mb = path.stat().st_size / 1e6
    print(f"replay: {result['events']} events ({size_mb:.0f} MB, {args.days} days, "
          f"generated in {generated:.1f}s) -> {result['rows']} rows in "
          f"{result['seconds']:.2f}s = {result['events'] / result['seconds']:,.0f} events/s; "
          f"peak RSS {result['peak_rss_mb']:.0f} MB (at start {result['start_rss_mb']:.0f} "
          f"MB); max open conversations {result['most_open']}; lines {lines}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
