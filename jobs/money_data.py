"""The money read side's one loader: a bot's movements as ClickHouse holds them, and the books
the pure engine folds from them (MONEY_RULES: the money is a pure function of the account
events and the billed sessions).

- account events: the archive the sink fills from ``account-events`` (every distinct version,
  decoded with ``billing_rules.account_events.account_event_from_mapping``);
- billed sessions: the very read ``botbill sessions export`` makes
  (:func:`sinks.queries.billed_sessions`: deduplicated, voided left out), each as the
  :class:`Charge` ``replay`` makes of it (:func:`jobs.replay_money.session_charge`).

So :func:`recompute` as of ``T`` equals ``replay --as-of T`` over the same events whenever none
was late. Cost: O(the history of the selected bots) per call; a checkpoint (a
``money_state`` book at a settled instant) is the next step when that grows.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any

from botbill.billing_rules.account_events import AccountEvent, account_event_from_mapping
from botbill.billing_rules.catalog import Catalog
from botbill.billing_rules.exceptions import InvalidEvent
from botbill.billing_rules.money import BotBook, BotKey, Movement, Output, Rejection, run_books
from botbill.sinks.account_events import account_event_payloads
from botbill.sinks.queries import billed_sessions

from .replay_money import session_charge

__all__ = ["Recomputed", "account_events", "load_movements", "recompute"]

Client = Any
Report = Callable[[str, str], None]


def _stderr(label: str, reason: str) -> None:
    print(f"botbill: skipped {label}: {reason}", file=sys.stderr)


def account_events(client: Client, *, account: str | None = None, bot: str | None = None,
                   until_ms: int | None = None, report: Report = _stderr,
                   ) -> Iterator[AccountEvent]:
    """The archived account events, decoded; a malformed one is reported and skipped."""
    for label, payload in account_event_payloads(client, account=account, bot=bot,
                                                 until_ms=until_ms):
        try:
            record = json.loads(payload)
            if not isinstance(record, dict):
                raise InvalidEvent("not a JSON object")
            yield account_event_from_mapping(record)
        except (InvalidEvent, ValueError) as error:
            report(label, str(error))


def _day_after(t: int) -> date:
    """A day past ``t``'s UTC day: the bound only saves reading, so it errs on the wide side
    (a billing day is never more than a day off the UTC one)."""
    return datetime.fromtimestamp(t // 1000, UTC).date() + timedelta(days=1)


def load_movements(client: Client, *, account: str | None = None, bot: str | None = None,
                   as_of: int | None = None, report: Report = _stderr) -> list[Movement]:
    """Account events and billed sessions (as charges) of the selected bots, up to
    ``as_of`` (the engine drops anything later anyway; the bound only saves reading)."""
    movements: list[Movement] = list(account_events(client, account=account, bot=bot,
                                                    until_ms=as_of, report=report))
    day_to = _day_after(as_of) if as_of is not None else None
    movements.extend(session_charge(s) for s in billed_sessions(client, account=account,
                                                                  bot=bot, day_to=day_to))
    return movements


@dataclass(frozen=True, slots=True)
class Recomputed:
    """The engine's fold as of ``as_of``: the movements read, the books, every output."""

    as_of: int
    movements: list[Movement]
    books: dict[BotKey, BotBook]
    outputs: list[Output]

    @property
    def rejections(self) -> list[Rejection]:
        return [o for o in self.outputs if isinstance(o, Rejection)]


def recompute(client: Client, catalog: Catalog, as_of: int, *, account: str | None = None,
              bot: str | None = None, report: Report = _stderr,
              errors: IO[str] | None = None) -> Recomputed:
    """Fold the selected bots with ``run_books`` as of ``as_of``. Rejected events (they break
    a rule; replay reports them too) are listed on ``errors`` when given."""
    movements = load_movements(client, account=account, bot=bot, as_of=as_of, report=report)
    books, outputs = run_books(movements, as_of, catalog)
    result = Recomputed(as_of, movements, books, outputs)
    if errors is not None:
        for rejection in result.rejections:
            print(f"botbill: rejected account event {rejection.event.event_id!r} "
                  f"({rejection.event.account_id}/{rejection.event.bot_id}): "
                  f"{rejection.reason}", file=errors)
    return result
