"""Where the worked examples live: ``examples/`` in this repository (a copy of the
contract's worked cases; ``tests/test_examples_sync.py`` keeps the copy in step)."""

from pathlib import Path

__all__ = ["EXAMPLES", "REPO"]

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
