"""Errors of the local service stack.

BotbillError
 +-- StackError                 the stack cannot be provisioned, started or stopped
      +-- MissingTool           a program the stack needs (java, mvn, clickhouse-server) is absent
      +-- PortInUse             another process already listens on a port the stack needs
      +-- ServiceFailed         a service died or did not answer in time; carries its log tail

Every message says what to do next, because the reader is an operator at a terminal.
"""

from __future__ import annotations

from botbill.billing_rules.exceptions import BotbillError

__all__ = ["MissingTool", "PortInUse", "ServiceFailed", "StackError"]


class StackError(BotbillError):
    """The local Kafka + ClickHouse stack could not be brought to the requested state."""


class MissingTool(StackError):
    """A program the stack needs is not installed; ``hint`` says how to install it."""

    def __init__(self, tool: str, hint: str) -> None:
        self.tool = tool
        self.hint = hint
        super().__init__(f"{tool} is not installed: {hint}")


class PortInUse(StackError):
    """A port is taken by a process that is not this stack (another stack, a system service)."""

    def __init__(self, service: str, address: str, hint: str = "") -> None:
        self.service = service
        self.address = address
        hint = hint or "stop whatever listens there, or choose another port"
        super().__init__(f"{service}: {address} is already in use by another process; {hint}")


class ServiceFailed(StackError):
    """A service exited or stayed silent; ``log_tail`` holds the last lines of its log."""

    def __init__(self, service: str, reason: str, log_path: str, log_tail: str) -> None:
        self.service = service
        self.reason = reason
        self.log_path = log_path
        self.log_tail = log_tail
        super().__init__(
            f"{service}: {reason}\n--- last lines of {log_path} ---\n{log_tail}\n"
            f"--- fix the cause above, then run `botbill stack down` and `botbill stack up` ---"
        )
