"""The ``bot_entitlements`` table (migration 0020): may a bot serve users (MONEY_RULES M5)?
Written by the plan-status job; read by the platform or finance. Idempotent: one row per
bot, the highest ``version`` wins, read with ``FINAL``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields
from typing import Any

from ._driver import translated

__all__ = ["BotEntitlement", "read_entitlements", "write_entitlements"]

Client = Any


@dataclass(frozen=True, slots=True)
class BotEntitlement:
    account_id: str
    bot_id: str
    allowed: bool
    status: str
    reason: str
    since: int
    version: int = 0


_COLUMNS = [f.name for f in fields(BotEntitlement)]


def write_entitlements(client: Client, rows: Iterable[BotEntitlement]) -> None:
    values = [tuple(int(v) if isinstance(v, bool) else v for v in astuple(r)) for r in rows]
    if values:
        with translated("bot_entitlements"):
            client.execute(f"INSERT INTO bot_entitlements ({', '.join(_COLUMNS)}) VALUES",
                           values)


def read_entitlements(client: Client, *, account: str | None = None) -> list[BotEntitlement]:
    where, params = ("account_id = %(account)s", {"account": account}) if account else ("1", {})
    sql = (f"SELECT {', '.join(_COLUMNS)} FROM bot_entitlements FINAL WHERE {where} "
           "ORDER BY account_id, bot_id")
    with translated("bot_entitlements"):
        rows = client.execute(sql, params)
    return [BotEntitlement(a, b, bool(allowed), *rest) for a, b, allowed, *rest in rows]
