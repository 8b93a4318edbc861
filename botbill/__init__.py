"""botbill: usage metering and billing for a conversational-bot platform.

The distribution installs everything under this one name, so it cannot collide with other
packages: ``botbill.billing_rules`` (the pure rules), ``botbill.schemas`` (Avro),
``botbill.streams`` (the stream processors), ``botbill.sinks`` (ClickHouse),
``botbill.deploy`` (the local stack). The folders keep their short names in the repository;
``pyproject.toml`` maps them under ``botbill``.
"""

from __future__ import annotations

from botbill.billing_rules.exceptions import BotbillError

__all__ = ["BotbillError", "__version__"]

__version__ = "0.2.0"
