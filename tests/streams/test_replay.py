"""``botbill replay`` end to end: as a command (subprocess) and through ``streams.replay.main``."""

from __future__ import annotations

import io
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from botbill.streams import replay
from tests.examples_dir import BOTBILL, EXAMPLES

EVENTS = EXAMPLES / "events.jsonl"
EXPECTED = EXAMPLES / "expected.jsonl"


def botbill(*args: str | Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*BOTBILL, "replay", *map(str, args)], input=stdin,
                          capture_output=True, timeout=120, check=False)


def rows(data: bytes) -> Counter[bytes]:
    """JSON Lines as a multiset of canonical rows."""
    return Counter(orjson.dumps(orjson.loads(line), option=orjson.OPT_SORT_KEYS)
                   for line in data.splitlines() if line.strip())


def expected() -> Counter[bytes]:
    return rows(EXPECTED.read_bytes())


def lines() -> list[bytes]:
    return [line for line in EVENTS.read_bytes().splitlines() if line.strip()]


def write_lines(path: Path, content: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in content))
    return path


def test_command_bills_the_examples() -> None:
    done = botbill(EVENTS)
    assert done.returncode == 0, done.stderr
    assert rows(done.stdout) == expected()


def test_main_bills_the_examples(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert replay.main([str(EVENTS)]) == 0
    assert rows(capsysbinary.readouterr().out) == expected()


def test_rows_have_exactly_the_contract_fields() -> None:
    usage = {"kind", "account_id", "bot_id", "conversation_id", "channel", "user_id",
             "conversation_session_start", "conversation_session_end", "session_index",
             "billing_session_start", "billing_session_end"}
    alert = {"kind", "account_id", "bot_id", "event_id", "delivered_at"}
    for line in botbill(EVENTS).stdout.splitlines():
        row: dict[str, Any] = orjson.loads(line)
        assert set(row) == (usage if row["kind"] == "usage" else alert)


def test_several_files_and_stdin(tmp_path: Path) -> None:
    content = lines()
    first = write_lines(tmp_path / "a.jsonl", content[:20])
    last = write_lines(tmp_path / "c.jsonl", content[40:])
    middle = b"".join(line + b"\n" for line in content[20:40])
    done = botbill(first, "-", last, stdin=middle)
    assert done.returncode == 0, done.stderr
    assert rows(done.stdout) == expected()


def test_stdin_through_main(monkeypatch: pytest.MonkeyPatch,
                            capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(EVENTS.read_bytes())))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert replay.main(["-"]) == 0
    assert rows(capsysbinary.readouterr().out) == expected()


def test_output_file(tmp_path: Path) -> None:
    target = tmp_path / "billed.jsonl"
    done = botbill(EVENTS, "--output", target)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b""
    assert target.read_bytes() == botbill(EVENTS).stdout


def test_output_is_byte_identical_across_runs(tmp_path: Path) -> None:
    first, second = botbill(EVENTS), botbill(EVENTS)
    assert first.stdout == second.stdout != b""
    assert replay.main([str(EVENTS), "-o", str(tmp_path / "x.jsonl")]) == 0
    assert (tmp_path / "x.jsonl").read_bytes() == first.stdout


def _month(row: dict[str, Any]) -> str:
    return str(row["delivered_at"] if row["kind"] == "alert" else row["billing_session_start"])[:7]


def test_summary_counts_sessions_per_account_bot_and_month() -> None:
    done = botbill(EVENTS, "--summary")
    assert done.returncode == 0, done.stderr
    table = [line.split() for line in done.stdout.decode().splitlines()]
    assert table[0] == ["account", "bot", "month", "usage_sessions", "alert_sessions"]
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for line in EXPECTED.read_bytes().splitlines():
        row = orjson.loads(line)
        counts[row["account_id"], row["bot_id"], _month(row), row["kind"]] += 1
    got = {(a, b, m): (int(u), int(al)) for a, b, m, u, al in table[1:]}
    want = {(a, b, m): (counts[a, b, m, "usage"], counts[a, b, m, "alert"])
            for a, b, m, _ in counts}
    assert got == want
    assert got[("acct-1", "bot-b", "2026-10")] == (1, 0)  # the session starts on Oct 31


def test_summary_with_output_writes_both(tmp_path: Path) -> None:
    target = tmp_path / "billed.jsonl"
    done = botbill(EVENTS, "--summary", "-o", target)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"account")
    assert rows(target.read_bytes()) == expected()


BAD_LINES = {
    3: b'{"type": "conversation_turn", "event_id": "bad-1"',  # not JSON
    10: b'{"type": "conversation_turn", "event_id": "bad-2", "account_id": "acct-1", '
        b'"bot_id": "bot-a", "occurred_at": "2026-11-01T10:00:00.000Z", '
        b'"conversation_id": "c", "user_id": "u", "channel": "web", "speaker": "ROBOT"}',
    25: b"[1, 2, 3]",
}


def _with_bad_lines(path: Path) -> Path:
    content = lines()
    for number in sorted(BAD_LINES):
        content.insert(number - 1, BAD_LINES[number])
    return write_lines(path, content)


def test_bad_line_stops_with_file_line_and_reason(tmp_path: Path) -> None:
    dirty = _with_bad_lines(tmp_path / "dirty.jsonl")
    done = botbill(dirty)
    assert done.returncode != 0
    message = done.stderr.decode()
    assert f"{dirty}:3:" in message
    assert "not valid JSON" in message
    assert "Traceback" not in message


def test_invalid_field_names_line_and_field(tmp_path: Path) -> None:
    content = lines()
    content.insert(9, BAD_LINES[10])
    dirty = write_lines(tmp_path / "dirty.jsonl", content)
    done = botbill(dirty)
    assert done.returncode != 0
    assert f"{dirty}:10:" in done.stderr.decode()
    assert "speaker" in done.stderr.decode()


def test_skip_invalid_reports_each_bad_line_and_bills_the_rest(tmp_path: Path) -> None:
    dirty = _with_bad_lines(tmp_path / "dirty.jsonl")
    clean = write_lines(tmp_path / "clean.jsonl", lines())
    done = botbill(dirty, "--skip-invalid")
    assert done.returncode == 0, done.stderr
    report = done.stderr.decode().splitlines()
    for number in BAD_LINES:
        assert sum(f"{dirty}:{number}:" in line for line in report) == 1
    assert report[-1] == f"botbill replay: {len(BAD_LINES)} invalid record(s) skipped"
    assert done.stdout == botbill(clean).stdout


def test_late_event_stops_unless_skipped(tmp_path: Path) -> None:
    content = sorted(lines(), key=lambda line: orjson.loads(line)["occurred_at"])
    assert botbill(write_lines(tmp_path / "sorted.jsonl", content), "--max-disorder",
                   "1ms").returncode == 0  # time order needs no disorder at all
    straggler = content.pop(content.index(lines()[0]))  # ex1 10:00, after the 16:00 alert
    path = write_lines(tmp_path / "late.jsonl", [*content, straggler])
    done = botbill(path, "--max-disorder", "1h")
    assert done.returncode != 0
    assert f"{path}:57:" in done.stderr.decode()
    assert "late" in done.stderr.decode()
    skipped = botbill(path, "--max-disorder", "1h", "--skip-invalid")
    assert skipped.returncode == 0
    assert "1 invalid record(s) skipped" in skipped.stderr.decode()
    assert botbill(path).returncode == 0  # the default window absorbs any disorder


def test_timeouts_from_the_command_line(tmp_path: Path) -> None:
    longer = botbill(EVENTS, "--bot-timeout", "bot-a=1h")
    assert longer.returncode == 0, longer.stderr
    # ex4-idle (gap 15:01) becomes one visit of 16:01: two sessions instead of 1 + 1
    ex4 = [orjson.loads(x) for x in longer.stdout.splitlines() if b'"ex4-idle"' in x]
    assert [r["billing_session_start"][11:19] for r in ex4] == ["10:00:00", "10:15:00"]
    assert botbill(EVENTS, "--timeout", "15m").stdout == botbill(EVENTS).stdout


@pytest.mark.parametrize("option", [["--timeout", "1m"], ["--timeout", "15 minutes"],
                                    ["--bot-timeout", "bot-a"], ["--max-disorder", "x"]])
def test_bad_options_exit_2(option: list[str]) -> None:
    done = botbill(EVENTS, *option)
    assert done.returncode == 2
    assert done.stderr.startswith(b"botbill replay: ")


def test_missing_file_is_an_error() -> None:
    done = botbill("/nonexistent/events.jsonl")
    assert done.returncode == 1
    assert b"/nonexistent/events.jsonl" in done.stderr


def test_avro_container_input(tmp_path: Path) -> None:
    container = pytest.importorskip("botbill.schemas.container")
    path = tmp_path / "events.avro"
    with path.open("wb") as out:
        container.write_container(out, [orjson.loads(line) for line in lines()])
    done = botbill(path)
    assert done.returncode == 0, done.stderr
    assert rows(done.stdout) == expected()
    assert rows(botbill(EVENTS, path).stdout) == expected()  # the same events twice: R1


def test_corrupt_avro_container_stops_with_file_and_reason(tmp_path: Path) -> None:
    """BUG: a truncated container ends in an uncaught ``SchemaError`` traceback instead of
    ``botbill replay: FILE: reason`` (``main`` catches only ``OSError`` and ``BadRecord``)."""
    container = pytest.importorskip("botbill.schemas.container")
    path = tmp_path / "events.avro"
    with path.open("wb") as out:
        container.write_container(out, [orjson.loads(line) for line in lines()])
    path.write_bytes(path.read_bytes()[:-40])
    done = botbill(path)
    assert done.returncode != 0
    assert str(path) in done.stderr.decode()
    assert "Traceback" not in done.stderr.decode()
