"""``botbill db migrate [--url URL]``: create the database and apply pending migrations."""

from __future__ import annotations

import argparse
import sys

from .connection import URL_ENV, connect, resolve_url
from .exceptions import SinkError
from .migrations import available_migrations, migrate

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="botbill db", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("migrate", help="apply pending migrations (idempotent)")
    run.add_argument("--url", help=f"ClickHouse URL (default: ${URL_ENV})")
    args = parser.parse_args(argv)
    url = resolve_url(args.url)
    try:
        client = connect(url, create_database=True)
        try:
            applied = migrate(client)
        finally:
            client.disconnect()
    except SinkError as error:
        print(f"botbill db migrate: {error}", file=sys.stderr)
        return 1
    names = {m.version: f"{m.version}_{m.name}" for m in available_migrations()}
    for version in applied:
        print(f"applied {names[version]}")
    if not applied:
        print("up to date")
    return 0
