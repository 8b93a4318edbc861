-- Money: the archive of the account-events topic (MONEY_RULES §1), written by the sink, read
-- by the jobs that recompute the money (balances export, invoices run, plan-status). Every
-- distinct version of a record is kept: a row is identified by event_id and the SHA-256 of
-- its canonical JSON payload, so a redelivery collapses while a redelivery with different
-- content (R1: the engine keeps one, by content order) stays, exactly as replay sees it.
CREATE TABLE IF NOT EXISTS account_events
(
    account_id      String,
    bot_id          String,
    event_id        String,
    content_hash    String,
    event_type      String,
    occurred_at     Int64,
    payload         String,
    kafka_topic     String,
    kafka_partition Int32,
    kafka_offset    Int64,
    ingested_at     Int64
)
ENGINE = ReplacingMergeTree()
ORDER BY (account_id, bot_id, event_id, content_hash)
