"""The money half of ``botbill demo``: per bot, plan, status and balance as ClickHouse gives
them (``botbill balances export --as-of T``) next to ``botbill replay --as-of T --balances``
over the very events sent, and each invoice (``invoices run`` then ``invoices export``) next
to ``replay --invoices``. Both sides are the project's own commands, run in this process."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from botbill.billing_rules.timeutil import format_ms, parse_rfc3339_ms
from botbill.schemas import ACCOUNT_EVENT_SCHEMAS

__all__ = ["Sent", "archived_account_events", "balances_table", "cents", "exported_balances",
           "exported_invoices", "invoices_lines", "read_rows", "sent"]

Row = dict[str, Any]


class Sent:
    """What the generated traffic holds: its accounts, its account events' ids, its latest
    event time (the demo's ``T``)."""

    def __init__(self, accounts: list[str], account_event_ids: set[str], latest_ms: int):
        self.accounts = accounts
        self.account_event_ids = account_event_ids
        self.latest_ms = latest_ms

    @property
    def as_of(self) -> str:
        return format_ms(self.latest_ms)


def sent(path: Path) -> Sent:
    accounts: set[str] = set()
    ids: set[str] = set()
    latest = 0
    with open(path, "rb") as lines:
        for line in lines:
            record = orjson.loads(line)
            accounts.add(record["account_id"])
            latest = max(latest, parse_rfc3339_ms(record["occurred_at"]))
            if record["type"] in ACCOUNT_EVENT_SCHEMAS:
                ids.add(record["event_id"])
    return Sent(sorted(accounts), ids, latest)


def cents(amount: int) -> str:
    """Integer cents as dollars, exactly (no float on the way)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount) // 100:,}.{abs(amount) % 100:02d}"


def read_rows(path: Path) -> list[Row]:
    with open(path, "rb") as lines:
        return [orjson.loads(line) for line in lines if line.strip()]


def archived_account_events(client: Any, prefix: str) -> int:
    """How many distinct account events of this run the sink has archived."""
    rows = client.execute("SELECT uniqExact(event_id) FROM account_events "
                          "WHERE startsWith(account_id, %(prefix)s)", {"prefix": prefix})
    return int(rows[0][0])


def _run(main: Any, argv: list[str], output: Path) -> list[Row]:
    if main(argv) != 0:
        raise SystemExit(f"[demo] `botbill {' '.join(argv)}` failed")
    return read_rows(output)


def exported_balances(url: str, accounts: Iterable[str], as_of: str) -> list[Row]:
    """``botbill balances export --account A --as-of T`` for each account."""
    from botbill.jobs import balances

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for number, account in enumerate(accounts):
            out = Path(tmp) / f"balances-{number}.jsonl"
            rows += _run(balances.main, ["export", "--url", url, "--account", account,
                                         "--as-of", as_of, "--output", str(out)], out)
    return rows


def exported_invoices(url: str, accounts: Iterable[str], as_of: str) -> list[Row]:
    """``botbill invoices run --account A --as-of T`` then ``invoices export --account A``."""
    from botbill.jobs import invoicing

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for number, account in enumerate(accounts):
            out = Path(tmp) / f"invoices-{number}.jsonl"
            if invoicing.main(["run", "--url", url, "--account", account,
                               "--as-of", as_of]) != 0:
                raise SystemExit(f"[demo] `botbill invoices run --account {account}` failed")
            rows += _run(invoicing.main, ["export", "--url", url, "--account", account,
                                          "--output", str(out)], out)
    return rows


def _layout(rows: list[tuple[str, ...]], left: int) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i < left else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True)))
                     for r in rows)


def _both(a: Any, b: Any) -> str:
    return str(a) if a == b else f"{a} | {b}"


def balances_table(clickhouse: list[Row], replayed: list[Row]) -> tuple[str, bool]:
    """One line per bot; ``ok`` when the whole §4 row (every total too) is the same."""
    stored = {(r["account_id"], r["bot_id"]): r for r in clickhouse}
    billed = {(r["account_id"], r["bot_id"]): r for r in replayed}
    missing: Row = {"plan_id": "-", "status": "-", "balance_cents": None}
    rows = [("account", "bot", "plan", "status", "balance (ClickHouse)", "balance (replay)",
             "")]
    agree = True
    for key in sorted(stored.keys() | billed.keys()):
        ours, theirs = stored.get(key, missing), billed.get(key, missing)
        same = ours == theirs
        agree &= same
        rows.append((*key, _both(ours["plan_id"], theirs["plan_id"]),
                     _both(ours["status"], theirs["status"]),
                     *("-" if r["balance_cents"] is None else cents(r["balance_cents"])
                       for r in (ours, theirs)),
                     "ok" if same else "DIFFERENT"))
    return _layout(rows, 4), agree


def invoices_lines(clickhouse: list[Row], replayed: list[Row]) -> tuple[str, bool]:
    """One line per invoice; ``ok`` when the whole §4 row (every line too) is the same."""
    stored = {r["invoice_id"]: r for r in clickhouse}
    billed = {r["invoice_id"]: r for r in replayed}
    rows = [("invoice", "period", "status", "lines", "total (ClickHouse)", "total (replay)", "")]
    agree = True
    for key in sorted(stored.keys() | billed.keys()):
        ours, theirs = stored.get(key), billed.get(key)
        same = ours == theirs
        agree &= same
        some = ours or theirs
        assert some is not None
        rows.append((key, some["period"], _both(*(r["status"] if r else "-"
                                                  for r in (ours, theirs))),
                     _both(*(str(len(r["lines"])) if r else "-" for r in (ours, theirs))),
                     *(cents(r["total_cents"]) if r else "-" for r in (ours, theirs)),
                     "ok" if same else "DIFFERENT"))
    return _layout(rows, 4), agree
