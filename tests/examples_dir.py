"""Where the worked examples live: ``examples/`` in this repository (a copy of the
contract's worked cases; ``tests/test_examples_sync.py`` keeps the copy in step)."""

import sys
from pathlib import Path

__all__ = ["BOTBILL", "EXAMPLES", "REPO"]

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"

# The botbill command of the interpreter running the tests (never whatever is on the PATH).
BOTBILL = [sys.executable, "-m", "botbill"]
