"""Batch jobs around the functional core: the money side of ``replay``, and the money read
side over ClickHouse (``money_data`` loader, ``balances export``, ``invoices run/export``,
``plan-status``, the worker's ``schedule``; imported by module, so ``replay`` never loads the
ClickHouse driver). Thin adapters: every decision is in ``billing_rules``."""

from .catalog_file import load_catalog
from .replay_money import AccountRecord, MoneyReplay

__all__ = ["AccountRecord", "MoneyReplay", "load_catalog"]
