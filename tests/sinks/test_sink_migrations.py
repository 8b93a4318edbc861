"""The migration files: named, numbered, one idempotent statement each."""

from __future__ import annotations

import re

from botbill.sinks.migrations import _column_already_added, available_migrations


def code(sql: str) -> str:
    return "\n".join(line.split("--")[0] for line in sql.splitlines())


def test_versions_are_contiguous_from_0001():
    versions = [m.version for m in available_migrations()]
    assert versions == [f"{n:04d}" for n in range(1, len(versions) + 1)]


IDEMPOTENT = re.compile(r"\bIF (NOT )?EXISTS\b|\bMODIFY COLUMN\b|\bADD COLUMN\b")


def test_every_statement_is_idempotent_ddl():
    """Safe to run twice: IF [NOT] EXISTS, a MODIFY COLUMN, or an ADD COLUMN (which the
    runner takes as applied when the column is there: 18.16 has no IF NOT EXISTS for it)."""
    for migration in available_migrations():
        body = code(migration.sql)
        assert IDEMPOTENT.search(body), migration.name
        assert not body.rstrip().endswith(";"), migration.name


def test_an_add_column_run_again_counts_as_applied():
    sql = "-- a comment\nALTER TABLE alert_sessions ADD COLUMN billing_day Date"
    assert _column_already_added(sql, "Code: 44. Cannot add column billing_day: column with "
                                      "this name already exists.")
    assert not _column_already_added(sql, "Code: 60. Table alert_sessions doesn't exist.")
    assert not _column_already_added("CREATE TABLE IF NOT EXISTS t (a Int8) ENGINE = Log",
                                     "already exists")


def test_no_migration_derives_a_billing_day_any_more():
    """billing_rules.periods decides the billing day; after 0015/0016 the tables store what
    the writer computed and the finance view groups by it."""
    latest = {m.name: m for m in available_migrations()}
    assert "toDate" not in code(latest["bot_usage_daily"].sql)
    assert "billing_day AS day" in code(latest["bot_usage_daily"].sql)
    assert "delivered_day" not in code(latest["bot_usage_daily"].sql)


def test_replacing_tables_are_not_partitioned_by_a_mutable_time():
    # billing_session_start moves between revisions; a partition must come from identity.
    usage = next(m for m in available_migrations() if m.name == "usage_sessions")
    partition = re.search(r"PARTITION BY (.+)", usage.sql)
    assert partition is not None and "conversation_session_start" in partition.group(1)
    assert "ReplacingMergeTree(revision)" in usage.sql


def test_finance_views_are_plain_views():
    for migration in available_migrations():
        assert "MATERIALIZED VIEW" not in code(migration.sql).upper(), migration.name
