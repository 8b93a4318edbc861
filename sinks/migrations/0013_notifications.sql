-- Money (M5): one notification per transition (low_balance, suspended, expired, expiring,
-- downgrade scheduled or applied, extension decided), with a deterministic id: written
-- again by a redelivery, it collapses.
CREATE TABLE IF NOT EXISTS notifications
(
    account_id      String,
    bot_id          String,
    notification_id String,
    at              Int64,
    kind            String,
    detail          String,
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (account_id, bot_id, notification_id)
