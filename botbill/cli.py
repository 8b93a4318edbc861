"""The ``botbill`` command: one entry point, each sub-command owned by its package.

Sub-commands are imported lazily so that ``botbill replay`` never pays for Faust or Kafka.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["main"]

# command -> (module under botbill, what it does)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("streams.demo", "the main job: stack, topics, worker, traffic, billed report"),
    "replay": ("streams.replay", "bill event files offline with the same rules (BILLING_RULES)"),
    "stack": ("deploy.stack", "start/stop/inspect the local Kafka + ClickHouse (no Docker)"),
    "topics": ("streams.topics", "create the Kafka topics"),
    "db": ("sinks.cli", "ClickHouse schema: `botbill db migrate`"),
    "sessions": ("sinks.export", "finance export: `botbill sessions export`"),
    "reconcile": ("streams.reconcile", "re-bill archived events, report/repair differences"),
    "worker": ("streams.worker", "run the Faust worker (sessionizer, alerts, sink)"),
    "produce": ("streams.produce", "send an event file, or generated traffic, to Kafka"),
    "api": ("api.server", "the admin API and Billing page (127.0.0.1:8080)"),
    "users": ("api.users", "admin API users: `botbill users add --account A --user U --role R`"),
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help") or args[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        lines = [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
        print("usage: botbill COMMAND [ARGS...]\n\ncommands:\n" + "\n".join(lines))
        if args and args[0] not in ("-h", "--help"):
            print(f"\nbotbill: unknown command {args[0]!r}", file=sys.stderr)
            return 2
        return 0
    module = importlib.import_module(f"botbill.{COMMANDS[args[0]][0]}")
    return int(module.main(args[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
