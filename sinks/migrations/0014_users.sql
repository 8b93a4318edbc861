-- The admin API's users: one row per (account_id, user_id) with its role and the SHA-256 of
-- its bearer token (never the token). A new token or role is a higher version.
CREATE TABLE IF NOT EXISTS users
(
    account_id String,
    user_id    String,
    role       String,
    token_hash String,
    created_at Int64,
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (account_id, user_id)
