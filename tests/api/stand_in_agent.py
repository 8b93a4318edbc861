"""A stand-in for the balance agent, for the browser tests only, until the real one exists.

It reads the module's account-events topic (what the API really wrote to Kafka) and applies
just the two effects the Billing page tests look at, through the same ``sinks.money`` write
functions the balance agent will use: an ``order_placed`` becomes a pending order, a
``plan_change_requested`` to a lower rank schedules a downgrade on the bot's row. Everything
else the agent will do (wallets, statuses, notifications) is out of its scope.
"""

from __future__ import annotations

from dataclasses import replace

from botbill.billing_rules.admin import is_downgrade, next_month_start_ms
from botbill.sinks import connect
from botbill.sinks.money import Order, read_balances, write_balances, write_orders

from .conftest import World, read_account_events


def apply_account_events(world: World, *, event_id: str) -> None:
    """Apply everything on the topic, once the event ``event_id`` (what the test's click
    produced) has arrived. Re-applying earlier events writes the same rows again (no-op)."""
    client = connect(world.clickhouse_url)
    seen = lambda messages: any(r["event_id"] == event_id for _, _, r in messages)  # noqa: E731
    try:
        messages = read_account_events(world, until=seen)
        assert seen(messages), f"{event_id} never reached Kafka"
        for _, name, record in messages:
            account, bot = record["account_id"], record["bot_id"]
            if name == "OrderPlaced":
                write_orders(client, [Order(account, bot, record["order_id"],
                                            record["occurred_at"], record["amount_cents"],
                                            record["payment_method"])])
            elif name == "PlanChangeRequested":
                (row,) = read_balances(client, account=account, bot=bot)
                if is_downgrade(row.plan_id, record["plan_id"]):
                    write_balances(client, [replace(
                        row, downgrade_plan_id=record["plan_id"],
                        downgrade_at=next_month_start_ms(record["occurred_at"]),
                        version=row.version + 1)])
    finally:
        client.disconnect()
