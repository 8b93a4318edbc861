"""``deploy/alert_rules.yml`` only names metrics the worker exports (a renamed metric would
silently disable its alert), and has the stall alert issue 9 asks for."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from botbill.streams.metrics import Metrics

RULES = Path(__file__).resolve().parents[2] / "deploy" / "alert_rules.yml"


def _exported() -> set[str]:
    names = set()
    for family in Metrics().registry.collect():
        names.update(sample.name for sample in family.samples)
        names.add(family.name)
        names.update(f"{family.name}{suffix}" for suffix in ("_total", "_bucket", "_sum",
                                                             "_count"))
    return names


def test_every_metric_an_alert_uses_is_exported() -> None:
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"]
             for rule in group["rules"]]
    exported = _exported()
    for rule in rules:
        used = set(re.findall(r"\bbotbill_[a-z_]+", rule["expr"]))
        assert used <= exported, (rule["alert"], used - exported)


def test_a_stalled_partition_alerts_from_the_brokers_view() -> None:
    rules = {rule["alert"]: rule for group in yaml.safe_load(RULES.read_text())["groups"]
             for rule in group["rules"]}
    assert "botbill_partition_stalled_seconds" in rules["BotbillPartitionStalled"]["expr"]
    assert "botbill_internal_errors" in rules["BotbillInternalErrors"]["expr"]
