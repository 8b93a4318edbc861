"""Reconciliation (BILLING_RULES §4): what the rules bill over the archived events, against
what the store holds, and the corrections that make the store right.

Pure: both sides come in as data. Corrections carry a revision one above the highest the
store has for that session, so they win over what the stream wrote, and running the
reconciliation again finds nothing left to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .sessions import AlertSession, SessionChange, UsageSession, row_sort_key

__all__ = ["Difference", "compare", "corrections"]

Identity = tuple[str, str, str, int, int]


@dataclass(frozen=True, slots=True)
class Difference:
    """``missing``: billed by the rules, not (or not so) in the store; ``extra``: in the
    store, not billed by the rules. A session whose times differ appears in both."""

    missing: tuple[UsageSession | AlertSession, ...]
    extra: tuple[UsageSession | AlertSession, ...]

    @property
    def empty(self) -> bool:
        return not self.missing and not self.extra


def compare(expected: Iterable[UsageSession | AlertSession],
            actual: Iterable[UsageSession | AlertSession]) -> Difference:
    want = set(expected)
    have = set(actual)
    return Difference(tuple(sorted(want - have, key=row_sort_key)),
                      tuple(sorted(have - want, key=row_sort_key)))


def corrections(difference: Difference, revisions: Mapping[Identity, int],
                ) -> tuple[list[SessionChange], list[AlertSession]]:
    """Usage changes (open the missing, void the extra) and alert sessions to insert.

    Extra *alert* sessions cannot be voided (alerts have no revisions); they stay in
    ``difference.extra`` for a person to look at.
    """
    changes: dict[Identity, SessionChange] = {}
    for session in difference.extra:
        if isinstance(session, UsageSession):
            revision = revisions.get(session.identity, 0) + 1
            changes[session.identity] = SessionChange(session, revision, True)
    for session in difference.missing:  # a replacement overrides the void of the same identity
        if isinstance(session, UsageSession):
            revision = revisions.get(session.identity, 0) + 1
            changes[session.identity] = SessionChange(session, revision, False)
    alerts = [s for s in difference.missing if isinstance(s, AlertSession)]
    return list(changes.values()), alerts
