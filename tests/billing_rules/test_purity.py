"""``billing_rules`` is the pure core: no Kafka, Avro or ClickHouse, and no clock."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from botbill import billing_rules

PACKAGE = Path(billing_rules.__file__).resolve().parent
MODULES = sorted(f"botbill.billing_rules.{p.stem}" for p in PACKAGE.glob("*.py")
                 if p.stem != "__init__")
FORBIDDEN = ("faust", "fastavro", "confluent_kafka", "clickhouse_driver", "aiokafka", "mode",
             "rocksdict", "prometheus_client")
CLOCK_CALLS = {"time.time", "time.time_ns", "time.monotonic", "datetime.now", "datetime.utcnow",
               "datetime.today", "date.today"}


def test_modules_are_found() -> None:
    expected = {"batch", "incremental", "visits", "events", "timeutil"}
    assert {f"botbill.billing_rules.{name}" for name in expected} <= set(MODULES)


def test_importing_billing_rules_loads_no_adapter_library() -> None:
    code = (f"import sys; import {', '.join(MODULES)}; "
            "print('\\n'.join(sorted(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True).stdout.split()
    heavy = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert heavy == []
    assert not [m for m in loaded
                if m.startswith(("botbill.streams", "botbill.sinks", "botbill.schemas"))]


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def test_no_clock_is_read() -> None:
    """Time is an argument in the rules: never ``time.time()`` or ``datetime.now()``."""
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        source = path.read_text()
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _dotted(node) in CLOCK_CALLS:
                found.append(f"{path.name}:{node.lineno}: {_dotted(node)}")
            if isinstance(node, ast.ImportFrom) and node.module in ("time",):
                found.append(f"{path.name}:{node.lineno}: from time import ...")
        for text in ("time.time(", "datetime.now(", "utcnow("):
            if text in source:
                found.append(f"{path.name}: {text}")
    assert found == []
