-- Money (M5): may the bot serve users? One row per bot, the highest version (the as_of of
-- the recompute that wrote it, in ms) wins. Written by the plan-status job until the
-- compacted bot-entitlements topic of the balance agent carries it (then a copy for finance).
CREATE TABLE IF NOT EXISTS bot_entitlements
(
    account_id String,
    bot_id     String,
    allowed    UInt8,
    status     String,
    reason     String,
    since      Int64,
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (account_id, bot_id)
