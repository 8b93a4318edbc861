"""``botbill users add | list``: the admin API's users and their bearer tokens.

``add`` makes (or replaces) a user's token and prints it once, on the last line: only its
SHA-256 is stored, so a lost token is replaced by running ``add`` again (the old one stops
working).
"""

from __future__ import annotations

import argparse
import sys
import time

from botbill.billing_rules.admin import ROLES
from botbill.billing_rules.exceptions import BotbillError
from botbill.sinks import connect, migrate
from botbill.sinks.money import User, read_users, write_users

from ._auth import hash_token, new_token

__all__ = ["add_user", "main"]


def add_user(client: object, account: str, user: str, role: str, *,
             now_ms: int | None = None) -> str:
    """Store a new token for ``(account, user)`` with ``role``; returns the token."""
    if role not in ROLES:
        raise BotbillError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not account or not user:
        raise BotbillError("--account and --user must not be empty")
    at = int(time.time() * 1000) if now_ms is None else now_ms
    previous = [u for u in read_users(client, account=account) if u.user_id == user]
    version = max((u.version for u in previous), default=0) + 1
    token = new_token()
    write_users(client, [User(account, user, role, hash_token(token), at, version)])
    return token


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="botbill users", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="add a user (or replace its token); prints the token")
    add.add_argument("--account", required=True)
    add.add_argument("--user", required=True)
    add.add_argument("--role", required=True, choices=ROLES)
    listing = sub.add_parser("list", help="the users of an account (never their tokens)")
    listing.add_argument("--account")
    for each in (add, listing):
        each.add_argument("--clickhouse-url", default=None)
    args = parser.parse_args(argv)
    client = connect(args.clickhouse_url, create_database=True)
    try:
        migrate(client)
        if args.action == "list":
            for u in read_users(client, account=args.account):
                print(f"{u.account_id}\t{u.user_id}\t{u.role}")
            return 0
        token = add_user(client, args.account, args.user, args.role)
        print(f"botbill users: {args.role} {args.user!r} of account {args.account!r}; "
              "the token below is shown once, keep it secret", file=sys.stderr)
        print(token)
        return 0
    except BotbillError as error:
        print(f"botbill users: {error}", file=sys.stderr)
        return 1
    finally:
        client.disconnect()
