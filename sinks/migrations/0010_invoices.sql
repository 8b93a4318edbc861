-- Money: invoice and receipt headers (MONEY_RULES M3, §4 row). One row per invoice_id and
-- version: a draft is rewritten with a higher version; `final` is written once and never
-- changed (the writer refuses to touch a final invoice). Lines live in invoice_lines under
-- the same (invoice_id, version). Read the highest version with FINAL.
CREATE TABLE IF NOT EXISTS invoices
(
    account_id  String,
    invoice_id  String,
    period      String,
    status      String,
    total_cents Int64,
    issued_at   Int64,
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (account_id, invoice_id)
