"""Batch jobs around the functional core: the money side of ``replay`` (more to come:
invoicing, plan status, reconciliation). Thin adapters: every decision is in
``billing_rules``."""

from .catalog_file import load_catalog
from .replay_money import AccountRecord, MoneyReplay

__all__ = ["AccountRecord", "MoneyReplay", "load_catalog"]
