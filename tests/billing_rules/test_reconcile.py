"""Reconciliation's pure part: differences and the corrections that remove them."""

from __future__ import annotations

from dataclasses import replace

from botbill.billing_rules.reconcile import compare, corrections
from botbill.billing_rules.sessions import AlertSession, SessionChange, UsageSession

MIN = 60_000


def usage(conversation: str, index: int, start: int, end: int) -> UsageSession:
    return UsageSession("a", "b", conversation, "web", "u", 0, 40 * MIN, index, start, end)


def apply(store: dict, changes: list[SessionChange]) -> None:
    """ReplacingMergeTree: the highest revision per identity wins."""
    for change in changes:
        known = store.get(change.session.identity)
        if known is None or change.revision > known.revision:
            store[change.session.identity] = change


def test_no_difference_means_no_correction() -> None:
    sessions = [usage("c1", 1, 0, 15 * MIN), AlertSession("a", "b", "e1", 5)]
    difference = compare(sessions, list(reversed(sessions)))
    assert difference.empty
    assert corrections(difference, {}) == ([], [])


def test_corrections_make_the_store_equal_the_rules() -> None:
    right = [usage("c1", 1, 0, 15 * MIN), usage("c1", 2, 15 * MIN, 20 * MIN),
             usage("c2", 1, 0, 3 * MIN)]
    alerts = [AlertSession("a", "b", "e1", 5), AlertSession("a", "b", "e2", 9)]
    wrong_end = replace(right[1], billing_session_end=30 * MIN)
    stray = usage("c3", 1, 0, MIN)
    stored = {s.identity: SessionChange(s, 7, False) for s in (right[0], wrong_end, stray)}
    difference = compare([*right, *alerts],
                         [c.session for c in stored.values()] + alerts[:1])
    assert set(difference.missing) == {right[1], right[2], alerts[1]}
    assert set(difference.extra) == {wrong_end, stray}

    revisions = {identity: change.revision for identity, change in stored.items()}
    changes, new_alerts = corrections(difference, revisions)
    apply(stored, changes)
    billed = {c.session for c in stored.values() if not c.voided}
    assert billed == set(right)
    assert new_alerts == [alerts[1]]
    assert all(c.revision == 8 for c in changes if c.session.identity in revisions)
