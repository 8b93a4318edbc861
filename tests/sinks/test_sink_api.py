"""The package's front door and its import rule (clickhouse-driver, billing_rules, stdlib)."""

from __future__ import annotations

import ast
import socket
import sys
from pathlib import Path

import pytest

from botbill import sinks
from botbill.sinks import export

SINKS = Path(sinks.__file__).parent


def test_public_names_are_pinned():
    assert sorted(sinks.__all__) == [
        "ClickHouseStore", "DeadLetterRecord", "InMemoryStore", "LateEventRecord",
        "MigrationError", "RawEventRecord", "SessionStore", "SinkBatch", "SinkError",
        "SinkUnavailable", "UsageSnapshot", "UsageSummary", "billed_sessions", "connect", "migrate",
        "raw_events", "usage_summary", "write_with_retry"]
    for name in sinks.__all__:
        assert getattr(sinks, name).__doc__, name


def _root(module: str) -> str:
    """The distribution-level name: ``botbill.billing_rules.x`` -> ``billing_rules``."""
    parts = module.split(".")
    return parts[1] if parts[0] == "botbill" and len(parts) > 1 else parts[0]


def test_sinks_imports_only_clickhouse_driver_billing_rules_and_stdlib():
    allowed = set(sys.stdlib_module_names) | {"clickhouse_driver", "billing_rules"}
    for path in SINKS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = [_root(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                roots = [_root(node.module or "")]
            else:
                continue
            assert set(roots) <= allowed, f"{path.name} imports {roots}"


def test_every_module_declares_its_public_names():
    for path in SINKS.glob("*.py"):
        if path.name != "__init__.py":
            assert "__all__" in path.read_text(), path.name


@pytest.mark.parametrize("argv, message", [
    (["export", "--from", "2026-11-02", "--to", "2026-11-01"], "--from must not be after"),
    (["export", "--from", "20261101"], "not a day (YYYY-MM-DD)"),
    (["export", "--url", "clickhouse://default@127.0.0.1:1/no-such-db"], "plain identifier"),
])
def test_sessions_export_refuses_bad_arguments_before_querying(argv, message, capsys):
    try:
        code = export.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    assert code in (1, 2) and message in capsys.readouterr().err


def test_a_failed_export_leaves_no_file_behind(tmp_path, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    output = tmp_path / "export.jsonl"
    argv = ["export", "--output", str(output), "--url", f"clickhouse://default@127.0.0.1:{port}/x"]
    assert export.main(argv) == 1
    assert "Connection refused" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
