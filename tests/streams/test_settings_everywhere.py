"""Every command reads T, per-bot T, grace and disorder the same way (``BillingSettings``):
the worker, ``replay``, ``reconcile`` and ``demo``."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
import pytest

from botbill.billing_rules.settings import BillingSettings, TimeoutPolicy
from botbill.streams import demo, reconcile, replay
from botbill.streams.settings import WorkerSettings
from tests.examples_dir import EXAMPLES

MIN = 60_000
ENV = {"BOTBILL_TIMEOUT": "20m", "BOTBILL_BOT_TIMEOUTS": "bot-a=1h,bot-b=2h",
       "BOTBILL_GRACE": "7m", "BOTBILL_MAX_DISORDER": "3d"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return ENV


def test_the_worker_bills_with_the_shared_settings(env: dict[str, str]) -> None:
    worker = WorkerSettings.from_env(env).billing
    shared = BillingSettings.from_env(env)
    assert (worker.policy, worker.grace_ms) == (shared.policy, shared.grace_ms)
    assert shared.policy == TimeoutPolicy(20 * MIN, {"bot-a": 60 * MIN, "bot-b": 120 * MIN})


def test_reconcile_reads_per_bot_timeouts_from_the_environment(
        env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """It used to read BOTBILL_TIMEOUT only, re-billing bots with their own T at the default
    and then 'repairing' correct sessions."""
    seen: dict[str, Any] = {}

    def fake(url: str, day_from: date, day_to: date, **kwargs: Any) -> int:
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(reconcile, "reconcile", fake)
    assert reconcile.main(["--from", "2026-11-01", "--to", "2026-11-01"]) == 0
    assert seen["settings"] == BillingSettings.from_env(env)
    assert reconcile.main(["--from", "2026-11-01", "--to", "2026-11-01",
                           "--bot-timeout", "bot-a=30m"]) == 0
    assert seen["settings"].policy.timeout_ms("bot-a") == 30 * MIN
    assert seen["settings"].policy.timeout_ms("bot-b") == 120 * MIN


def _ex4_sessions(out: bytes) -> list[str]:
    rows = [orjson.loads(line) for line in out.splitlines()]
    return [r["billing_session_start"][11:19] for r in rows
            if r.get("conversation_id") == "ex4-idle"]


def test_replay_reads_per_bot_timeouts_from_the_environment(
        env: dict[str, str], capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert replay.main([str(EXAMPLES / "events.jsonl")]) == 0
    # ex4-idle (a gap of 15:01) is one visit of 16:01 under bot-a's 1 h: two sessions
    assert _ex4_sessions(capsysbinary.readouterr().out) == ["10:00:00", "10:15:00"]


def test_demo_replays_with_the_worker_settings(env: dict[str, str]) -> None:
    billed = demo._replay(EXAMPLES / "events.jsonl", BillingSettings.from_env(env))
    ex4 = [s for s in billed if getattr(s, "conversation_id", "") == "ex4-idle"]
    assert len(ex4) == 2
