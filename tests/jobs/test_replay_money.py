"""``botbill replay --as-of T --balances B --invoices I`` on the worked money cases, through
the real command: each ``examples/money/balances-DAY.jsonl`` / ``invoices-DAY.jsonl`` is the
expected output as of DAY at 00:00 (rows compare as sets)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from tests.examples_dir import EXAMPLES

MONEY = EXAMPLES / "money"
EVENTS = MONEY / "events.jsonl"
DAYS = sorted(p.stem.removeprefix("balances-") for p in MONEY.glob("balances-*.jsonl"))
# The worked file is grouped by case, months out of order: replay's default disorder window
# (unbounded) takes it as it is; the money side sorts by itself.
WIDE: tuple[str, ...] = ()


def botbill(*args: str | Path, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("botbill")
    command = [exe] if exe else [sys.executable, "-m", "botbill"]
    return subprocess.run([*command, "replay", *map(str, args)], capture_output=True,
                          text=True, timeout=300, check=False, env=env)


def row_set(path: Path) -> set[str]:
    return {json.dumps(json.loads(line), sort_keys=True)
            for line in path.read_text().splitlines() if line.strip()}


def test_every_day_has_both_files() -> None:
    assert DAYS == ["2026-02-10", "2026-03-02", "2026-06-05"]
    assert all((MONEY / f"invoices-{day}.jsonl").exists() for day in DAYS)


@pytest.mark.parametrize("day", DAYS)
def test_replay_gives_the_expected_balances_and_invoices(day: str, tmp_path: Path) -> None:
    balances, invoices = tmp_path / "b.jsonl", tmp_path / "i.jsonl"
    done = botbill(EVENTS, *WIDE, "--as-of", f"{day}T00:00:00.000Z", "--balances", balances,
                   "--invoices", invoices, "-o", tmp_path / "sessions.jsonl")
    assert done.returncode == 0, done.stderr
    assert row_set(balances) == row_set(MONEY / f"balances-{day}.jsonl")
    assert row_set(invoices) == row_set(MONEY / f"invoices-{day}.jsonl")


def test_invalid_account_events_are_reported_with_file_line_and_never_stop(
        tmp_path: Path) -> None:
    done = botbill(EVENTS, *WIDE, "--as-of", "2026-06-05T00:00:00.000Z", "--balances",
                   tmp_path / "b.jsonl", "-o", tmp_path / "s.jsonl")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "rejected account event" in line]
    text = EVENTS.read_text().splitlines()

    def line_of(event_id: str) -> int:
        return next(i for i, line in enumerate(text, 1) if f'"{event_id}"' in line)

    # the invalid cases named in examples/money/README.md, each with its reason
    cases = {"e000011": "not registered", "e000013": "already registered",
             "e000023": "under the minimum", "e000025": "already settled",
             "e000029": "not registered", "e012196": "'days'", "e012200": "no extension"}
    for event_id, reason in cases.items():
        where = f"events.jsonl:{line_of(event_id)}:"
        assert any(where in line and reason in line for line in lines), (event_id, lines)
    assert len(lines) == len(cases)
    assert f"{len(cases)} invalid account event(s) rejected" in done.stderr


def test_session_output_is_unchanged_by_the_money_options(tmp_path: Path) -> None:
    plain, money = tmp_path / "plain.jsonl", tmp_path / "money.jsonl"
    assert botbill(EVENTS, *WIDE, "-o", plain).returncode == 0
    assert botbill(EVENTS, *WIDE, "-o", money, "--balances", tmp_path / "b.jsonl").returncode == 0
    assert plain.read_bytes() == money.read_bytes()
    assert '"bot_registered"' not in plain.read_text()


def test_as_of_defaults_to_the_latest_occurred_at(tmp_path: Path) -> None:
    latest = max(json.loads(line)["occurred_at"] for line in EVENTS.read_text().splitlines())
    done = botbill(EVENTS, *WIDE, "--balances", tmp_path / "b.jsonl", "-o", tmp_path / "s")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert {row["as_of"] for row in rows} == {latest}


def test_a_catalog_file_overrides_the_prices(tmp_path: Path) -> None:
    default = json.loads(resources.files("botbill.billing_rules")
                         .joinpath("data/catalog.json").read_text())
    default["plans"]["standard"]["usage_price_cents"] = 25
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(default))
    day = "2026-06-05"
    done = botbill(EVENTS, *WIDE, "--as-of", f"{day}T00:00:00.000Z", "--catalog", catalog,
                   "--balances", tmp_path / "b.jsonl", "-o", tmp_path / "s")
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "b.jsonl").read_text().splitlines()
    got = {row["bot_id"]: row for row in map(json.loads, lines)}
    # bot-s2: 4 usage sessions (3 + 1) and 2 alerts: 4 x 25 + 2 x 2
    assert got["bot-s2"]["debited_cents"] == 4 * 25 + 2 * 2


def test_a_bad_catalog_is_refused_with_the_reason(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_text('{"version": "x", "low_balance_cents": 2000, "plans": {}}')
    done = botbill(EVENTS, "--balances", tmp_path / "b.jsonl", "--catalog", catalog)
    assert done.returncode == 2
    assert "invalid plan catalog" in done.stderr and "'plans'" in done.stderr
    env = {**os.environ, "BOTBILL_CATALOG": str(catalog)}
    done = botbill(EVENTS, "--balances", tmp_path / "b.jsonl", env=env)
    assert done.returncode == 2 and "invalid plan catalog" in done.stderr


def test_any_order_and_redelivery_of_the_input_gives_the_same_rows(tmp_path: Path) -> None:
    import random

    lines = [line for line in EVENTS.read_text().splitlines() if line.strip()]
    rng = random.Random(7)
    shuffled = lines + rng.sample(lines, k=len(lines) // 3)
    rng.shuffle(shuffled)
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join(shuffled) + "\n")
    day = "2026-03-02"
    done = botbill(mixed, *WIDE, "--as-of", f"{day}T00:00:00.000Z", "--balances",
                   tmp_path / "b.jsonl", "--invoices", tmp_path / "i.jsonl", "-o",
                   tmp_path / "s.jsonl")
    assert done.returncode == 0, done.stderr
    assert row_set(tmp_path / "b.jsonl") == row_set(MONEY / f"balances-{day}.jsonl")
    assert row_set(tmp_path / "i.jsonl") == row_set(MONEY / f"invoices-{day}.jsonl")
