"""``botbill replay --skip-invalid`` on input displaced far beyond ``--max-disorder``: the rows
are the rules (the independent oracle) applied to exactly the records it did not refuse, and
each refusal names ``file:line`` and the reason. Also: timestamps out of range are refused
as invalid records, never a traceback."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from botbill.billing_rules.events import event_from_mapping
from tests.billing_rules.oracle import fmt, oracle_rows
from tests.billing_rules.support import row_set

MIN = 60_000
HOUR = 60 * MIN
START = 1_793_487_600_000  # 2026-10-31T22:00:00Z: across a month edge
MAX_DISORDER = 10 * MIN


def botbill(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    exe = shutil.which("botbill", path=str(Path(sys.executable).parent))
    command = [exe] if exe else [sys.executable, "-m", "botbill"]
    return subprocess.run([*command, "replay", *map(str, args)], capture_output=True,
                          timeout=120, check=False)


def workload(rng: random.Random) -> list[dict[str, Any]]:
    """Conversations with handoffs, test traffic and redeliveries, and alerts; time order."""
    records: list[dict[str, Any]] = []
    for number in range(40):
        bot = rng.choice(("bot-a", "bot-b", "bot-slow"))
        base = {"account_id": f"acct-{number % 3}", "bot_id": bot,
                "conversation_id": f"c{number % 25}", "user_id": f"u{number}", "channel": "web"}
        at = START + rng.randrange(8 * HOUR)
        for turn in range(rng.randint(2, 9)):
            at += rng.choice((rng.randint(0, 5 * MIN), rng.randint(10 * MIN, 20 * MIN),
                              rng.randint(20 * MIN, 50 * MIN)))
            record = {**base, "event_id": f"e{number}-{turn}", "occurred_at": at,
                      "is_test": rng.random() < 0.05}
            if rng.random() < 0.2:
                record.update(type="agent_handoff", handoff_id=f"h{rng.randint(1, 2)}",
                              phase=rng.choice(("STARTED", "ENDED")))
            else:
                record.update(type="conversation_turn",
                              speaker=rng.choice(("USER", "USER", "BOT", "AGENT")))
            records.append(record)
            if rng.random() < 0.05:
                records.append(dict(record))  # a producer's retry
    for number in range(15):
        records.append({"type": "alert_delivered", "event_id": f"al{number}",
                        "account_id": "acct-1", "bot_id": "bot-a", "alert_id": "report",
                        "user_id": "u-ops", "channel": "email",
                        "occurred_at": START + rng.randrange(8 * HOUR)})
    records.sort(key=lambda r: r["occurred_at"])
    return records


def displaced(records: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """A third of the records held back by up to 4x the allowed disorder."""
    keys = [r["occurred_at"] + (rng.randrange(4 * MAX_DISORDER) if rng.random() < 0.33 else 0)
            for r in records]
    order = sorted(range(len(records)), key=lambda i: keys[i])
    return [records[i] for i in order]


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(
        orjson.dumps({**r, "occurred_at": fmt(r["occurred_at"])}) + b"\n" for r in records))
    return path


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rows_are_the_rules_over_exactly_the_records_not_refused(tmp_path: Path,
                                                                 seed: int) -> None:
    rng = random.Random(seed)
    records = displaced(workload(rng), rng)
    path = write(tmp_path / "displaced.jsonl", records)
    done = botbill(path, "--max-disorder", "10m", "--bot-timeout", "bot-slow=45m",
                   "--skip-invalid")
    assert done.returncode == 0, done.stderr
    report = done.stderr.decode().splitlines()
    pattern = re.compile(rf"botbill replay: skipped {re.escape(str(path))}:(\d+): "
                         r"event '([^']+)' is late: occurred at \S+[,;] .+")
    refused = {}
    for line in report[:-1]:
        match = pattern.fullmatch(line)
        assert match, line
        refused[int(match[1])] = match[2]
    assert report[-1] == f"botbill replay: {len(refused)} invalid record(s) skipped"
    assert refused, "the input is displaced enough that some records must be refused"
    for number, event_id in refused.items():
        assert records[number - 1]["event_id"] == event_id
    kept = [event_from_mapping(r) for number, r in enumerate(records, start=1)
            if number not in refused]
    rows = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert row_set(rows) == row_set(oracle_rows(kept, {"bot-slow": 45 * MIN}))


@pytest.mark.parametrize("occurred_at", [-10**14, 0, 10**14, "0001-01-01T00:00:00.000Z",
                                         "1999-12-31T23:59:59.999Z", "2201-01-01T00:00:00Z"])
def test_a_time_out_of_range_is_an_invalid_record(tmp_path: Path,
                                                  occurred_at: int | str) -> None:
    rng = random.Random(0)
    records = workload(rng)[:20]
    lines = [orjson.dumps({**r, "occurred_at": fmt(r["occurred_at"])}) for r in records]
    lines.insert(4, orjson.dumps({**records[0], "event_id": "bad-time",
                                  "occurred_at": occurred_at}))
    path = tmp_path / "bad-time.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    stopped = botbill(path)
    assert stopped.returncode == 1
    message = stopped.stderr.decode()
    assert f"{path}:5: 'bad-time': field 'occurred_at' must be between " \
           "2000-01-01T00:00:00.000Z and 2200-12-31T23:59:59.999Z" in message
    assert "Traceback" not in message

    skipped = botbill(path, "--skip-invalid")
    assert skipped.returncode == 0, skipped.stderr
    assert "Traceback" not in skipped.stderr.decode()
    assert skipped.stdout == botbill(write(tmp_path / "clean.jsonl", records)).stdout


def test_the_edges_of_the_range_are_valid() -> None:
    base = {"type": "alert_delivered", "event_id": "a", "account_id": "x", "bot_id": "b",
            "alert_id": "r", "user_id": "u", "channel": "email"}
    for text in ("2000-01-01T00:00:00.000Z", "2200-12-31T23:59:59.999Z"):
        assert fmt(event_from_mapping({**base, "occurred_at": text}).occurred_at) == text
