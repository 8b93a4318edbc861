"""``botbill api``: serve the admin API and the Billing page (default 127.0.0.1:8080)."""

from __future__ import annotations

import argparse
import os
import sys

from botbill.billing_rules.exceptions import BotbillError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="botbill api", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=os.environ.get("BOTBILL_API_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("BOTBILL_API_PORT",
                                                                       "8080")))
    parser.add_argument("--clickhouse-url", default=None,
                        help="default: $BOTBILL_CLICKHOUSE_URL or the local stack's")
    parser.add_argument("--bootstrap",
                        default=os.environ.get("BOTBILL_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--registry", default=os.environ.get("BOTBILL_SCHEMA_REGISTRY_URL"))
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    import uvicorn

    from botbill.sinks import connect, migrate

    from ._events import KafkaEventLog
    from .app import create_app

    try:
        client = connect(args.clickhouse_url, create_database=True)
        try:
            migrate(client)  # idempotent: the tables the API reads exist before it answers
        finally:
            client.disconnect()
        events = KafkaEventLog(args.bootstrap, registry_url=args.registry)
        app = create_app(clickhouse_url=args.clickhouse_url, events=events)
    except BotbillError as error:
        print(f"botbill api: {error}", file=sys.stderr)
        return 1
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    finally:
        events.close()
    return 0
