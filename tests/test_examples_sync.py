"""The worked examples in ``examples/`` are a copy of the contract's; when the contract's
folder is beside the checkout (``../shared/examples``, as on the team's machines), the copy
must equal it. A user's clone has no such folder, and the check is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.examples_dir import EXAMPLES, REPO

CONTRACT = REPO.parent / "shared" / "examples"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_the_examples_are_in_the_repository() -> None:
    files = _files(EXAMPLES)
    assert {"events.jsonl", "expected.jsonl", "money/events.jsonl"} <= set(files)


@pytest.mark.skipif(not CONTRACT.is_dir(), reason="no ../shared/examples beside the checkout")
def test_the_copy_equals_the_contract() -> None:
    ours, theirs = _files(EXAMPLES), _files(CONTRACT)
    assert sorted(ours) == sorted(theirs)
    changed = [name for name in ours if ours[name] != theirs[name]]
    assert changed == []
