"""Versioned schema: ``sinks/migrations/NNNN_name.sql``, applied once each, in order.

One statement per file, every one ``IF NOT EXISTS``: a crash between a statement and its
bookkeeping row only means the statement runs again, harmlessly. ``schema_migrations``
records what was applied; two processes migrating at once both succeed (its
ReplacingMergeTree folds the duplicate rows).
"""

from __future__ import annotations

import re
from importlib import resources
from typing import NamedTuple

from clickhouse_driver import Client

from ._driver import translated
from .exceptions import MigrationError, SinkUnavailable

__all__ = ["Migration", "available_migrations", "migrate"]

_FILE = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")
_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    String,
    name       String,
    applied_at DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree()
ORDER BY version
"""


class Migration(NamedTuple):
    """One migration file: its version, its name and its single statement."""

    version: str  # "0001"
    name: str  # "raw_events"
    sql: str


def available_migrations() -> list[Migration]:
    """The migration files shipped with the package, in version order."""
    found: dict[str, Migration] = {}
    for entry in (resources.files(__package__) / "migrations").iterdir():
        match = _FILE.fullmatch(entry.name)
        if match is None:
            if entry.name.endswith(".sql"):
                raise MigrationError(f"migration file {entry.name!r} is not NNNN_name.sql")
            continue
        version, name = match.groups()
        if version in found:
            raise MigrationError(f"two migrations claim version {version}: "
                                 f"{found[version].name}, {name}")
        sql = entry.read_text(encoding="utf-8").strip().removesuffix(";").strip()
        if not sql or ";" in _without_comments(sql):
            raise MigrationError(f"migration {entry.name} must hold exactly one statement")
        found[version] = Migration(version, name, sql)
    return [found[version] for version in sorted(found)]


def migrate(client: Client) -> list[str]:
    """Apply the pending migrations to the client's database; returns their versions.

    The database must exist: ``connect(url, create_database=True)`` makes it. Raises
    :class:`SinkUnavailable` when ClickHouse cannot be reached, :class:`MigrationError`
    naming the version when a statement is refused; either way, re-running resumes.
    """
    with translated("schema_migrations"):
        client.execute(_BOOKKEEPING)
        applied = {version for (version,) in
                   client.execute("SELECT DISTINCT version FROM schema_migrations")}
    done = []
    for migration in available_migrations():
        if migration.version in applied:
            continue
        label = f"{migration.version}_{migration.name}"
        try:
            with translated(label):
                client.execute(migration.sql)
        except SinkUnavailable as error:
            if error.code is None:
                raise
            raise MigrationError(f"migration {label} failed: {error}") from error
        with translated("schema_migrations"):
            client.execute("INSERT INTO schema_migrations (version, name) VALUES",
                           [(migration.version, migration.name)])
        done.append(migration.version)
    return done


def _without_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
