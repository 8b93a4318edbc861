"""The migration files: named, numbered, one idempotent statement each."""

from __future__ import annotations

import re

from botbill.sinks.migrations import available_migrations


def code(sql: str) -> str:
    return "\n".join(line.split("--")[0] for line in sql.splitlines())


def test_versions_are_contiguous_from_0001():
    versions = [m.version for m in available_migrations()]
    assert versions == [f"{n:04d}" for n in range(1, len(versions) + 1)]


def test_every_statement_is_idempotent_ddl():
    for migration in available_migrations():
        body = code(migration.sql)
        # CREATE ... IF NOT EXISTS, or DROP ... IF EXISTS (a view being replaced)
        assert re.search(r"\b(CREATE\b.*\bIF NOT EXISTS|DROP\b.*\bIF EXISTS)\b", body,
                         re.DOTALL), migration.name
        assert not body.rstrip().endswith(";"), migration.name


def test_replacing_tables_are_not_partitioned_by_a_mutable_time():
    # billing_session_start moves between revisions; a partition must come from identity.
    usage = next(m for m in available_migrations() if m.name == "usage_sessions")
    partition = re.search(r"PARTITION BY (.+)", usage.sql)
    assert partition is not None and "conversation_session_start" in partition.group(1)
    assert "ReplacingMergeTree(revision)" in usage.sql


def test_finance_views_are_plain_views():
    for migration in available_migrations():
        assert "MATERIALIZED VIEW" not in code(migration.sql).upper(), migration.name
