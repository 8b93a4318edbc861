-- Money: the lines of each invoice version, unique per (invoice_id, version, line_no), so a
-- rewrite of the same version collapses and a draft with fewer lines leaves no stale line
-- behind (readers take the lines of the header's version).
CREATE TABLE IF NOT EXISTS invoice_lines
(
    account_id       String,
    invoice_id       String,
    version          UInt64,
    line_no          UInt32,
    bot_id           String,
    kind             String,
    quantity         Int64,
    unit_price_cents Int64,
    amount_cents     Int64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (account_id, invoice_id, version, line_no)
