-- Money: "add funds" orders (MONEY_RULES §1 order_placed / order_settled), the Orders &
-- Invoices list. One row per order; version 1 = pending, 2 = settled (an order settles
-- once), so a redelivered placement never hides its settlement. Read with FINAL.
CREATE TABLE IF NOT EXISTS orders
(
    account_id     String,
    bot_id         String,
    order_id       String,
    placed_at      Int64,
    amount_cents   Int64,
    payment_method String,
    payment_status String,
    settled_at     Int64,
    version        UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (account_id, bot_id, order_id)
