-- Money (M4): every wallet movement of a bot with a deterministic entry_id (a grant, a debit
-- and the grant it drew from, an expiry, a reversal), so a redelivery or rebuild collapses.
-- A debit drawing from two grants is two rows. amount_cents is signed (+ in, - out).
CREATE TABLE IF NOT EXISTS wallet_ledger
(
    account_id   String,
    bot_id       String,
    entry_id     String,
    at           Int64,
    kind         String,
    grant_id     String,
    amount_cents Int64,
    reference    String,
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (account_id, bot_id, entry_id)
