"""What one recompute of a bot changed since what was written before it: the balance agent
recomputes a bot from all its inputs (``money.run_books``) and writes only this difference.

The ledger is append-only. An entry the new recompute produces that was never posted is
posted; one posted earlier that the recompute no longer produces (its session was voided)
or produces with other content (a late grant changed what a debit drew from) is cancelled
by a :class:`Reversal` with a derived id, and the new content, if any, is posted again under
a derived id (``{entry_id}~{n}`` for the n-th posting), so no row is ever overwritten.
Notifications are never retracted: a new id is sent once. The entitlement is sent when it
differs from the last one sent.

Applying the diffs of any sequence of recomputes (:func:`apply_ledger`) leaves exactly the
final recompute's entries (property-tested), and the signed sum of everything posted equals
the final balance movements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .movements import Entitlement, LedgerEntry, Notification, Output

__all__ = [
    "MoneyDiff",
    "Reversal",
    "Written",
    "apply_ledger",
    "engine_entry_id",
    "money_diff",
    "written_from_dict",
    "written_to_dict",
]

_REPOST = "~"


@dataclass(frozen=True, slots=True)
class Reversal:
    """Cancels a posted entry (``reverses``, with the id it was posted under) at ``at``."""

    entry_id: str
    at: int
    reverses: LedgerEntry


@dataclass(frozen=True, slots=True)
class Written:
    """What has been written for one bot: the live postings by engine entry id (each with
    the id it was posted under), how often each engine id was posted, the notification ids
    sent and the last entitlement sent."""

    ledger: Mapping[str, LedgerEntry] = field(default_factory=dict)
    postings: Mapping[str, int] = field(default_factory=dict)
    notifications: frozenset[str] = frozenset()
    entitlement: Entitlement | None = None


@dataclass(frozen=True, slots=True)
class MoneyDiff:
    """What to write: ledger postings and reversals (in this order), new notifications, and
    the entitlement when it changed (``None``: unchanged)."""

    ledger: tuple[LedgerEntry | Reversal, ...] = ()
    notifications: tuple[Notification, ...] = ()
    entitlement: Entitlement | None = None

    def __bool__(self) -> bool:
        return bool(self.ledger or self.notifications or self.entitlement is not None)


def engine_entry_id(posted_id: str) -> str:
    """The engine's id of a posting (a re-posting carries ``~n``)."""
    return posted_id.split(_REPOST, 1)[0]


def _same(posted: LedgerEntry, entry: LedgerEntry) -> bool:
    return replace(posted, entry_id=entry.entry_id) == entry


def money_diff(written: Written, outputs: Iterable[Output], at: int,
               ) -> tuple[MoneyDiff, Written]:
    """The difference between ``written`` and one bot's recompute ``outputs`` (learned at
    instant ``at``), and what is written once the difference is."""
    entries: dict[str, LedgerEntry] = {}
    notes: list[Notification] = []
    entitlement: Entitlement | None = None
    for output in outputs:
        if isinstance(output, LedgerEntry):
            entries[output.entry_id] = output
        elif isinstance(output, Notification):
            notes.append(output)
        elif isinstance(output, Entitlement):
            entitlement = output
    ledger = dict(written.ledger)
    postings = dict(written.postings)
    changes: list[LedgerEntry | Reversal] = []
    for engine_id in sorted(set(ledger) - set(entries)):
        posted = ledger.pop(engine_id)
        changes.append(Reversal(f"{posted.entry_id}:reversed", at, posted))
    for engine_id, entry in entries.items():
        posted_entry = ledger.get(engine_id)
        if posted_entry is not None:
            if _same(posted_entry, entry):
                continue
            changes.append(Reversal(f"{posted_entry.entry_id}:reversed", at, posted_entry))
        count = postings.get(engine_id, 0) + 1
        postings[engine_id] = count
        posted_id = engine_id if count == 1 else f"{engine_id}{_REPOST}{count}"
        ledger[engine_id] = replace(entry, entry_id=posted_id)
        changes.append(ledger[engine_id])
    new_notes = []
    sent = set(written.notifications)
    for note in notes:
        if note.notification_id not in sent:
            sent.add(note.notification_id)
            new_notes.append(note)
    changed = entitlement if entitlement != written.entitlement else None
    after = Written(ledger, postings, frozenset(sent),
                    entitlement if entitlement is not None else written.entitlement)
    return MoneyDiff(tuple(changes), tuple(new_notes), changed), after


def apply_ledger(view: Mapping[str, LedgerEntry], diff: MoneyDiff) -> dict[str, LedgerEntry]:
    """A reader's ledger (posted id -> entry) after one diff: postings added, reversed
    postings removed."""
    out = dict(view)
    for change in diff.ledger:
        if isinstance(change, Reversal):
            del out[change.reverses.entry_id]
        else:
            out[change.entry_id] = change
    return out


# -- the agent's table form ----------------------------------------------------------------

def _entry_to_list(e: LedgerEntry) -> list[Any]:
    return [e.entry_id, e.at, e.kind, e.amount_cents, e.grant_id, e.session_id,
            [list(d) for d in e.draws]]


def written_to_dict(written: Written) -> dict[str, Any]:
    """JSON-ready form (account and bot are the table key's, not repeated per entry)."""
    ent = written.entitlement
    return {"ledger": {k: _entry_to_list(e) for k, e in written.ledger.items()},
            # a count of 1 is implied for a live posting; a reversed one must keep its count
            "postings": {k: n for k, n in written.postings.items()
                         if n > 1 or k not in written.ledger},
            "notifications": sorted(written.notifications),
            "entitlement": None if ent is None else [ent.allowed, ent.status, ent.since]}


def written_from_dict(data: Mapping[str, Any], account_id: str, bot_id: str) -> Written:
    """The inverse of :func:`written_to_dict` for the bot ``(account_id, bot_id)``."""
    ledger = {}
    for engine_id, (entry_id, at, kind, amount, grant_id, session_id, draws) \
            in data["ledger"].items():
        ledger[engine_id] = LedgerEntry(entry_id, account_id, bot_id, at, kind, amount,
                                        grant_id, session_id,
                                        tuple((str(g), int(c)) for g, c in draws))
    postings = {k: 1 for k in ledger}
    postings.update(data["postings"])
    ent = data["entitlement"]
    entitlement = None if ent is None else Entitlement(account_id, bot_id, ent[0], ent[1],
                                                       ent[2])
    return Written(ledger, postings, frozenset(data["notifications"]), entitlement)
