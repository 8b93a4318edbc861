-- Money (MONEY_RULES §4, M5): each registered bot's current balance row, plan, status, flags
-- and owner, as the balance agent (and the plan-status job) last wrote them. One row per
-- (account_id, bot_id); the highest version wins (the writer's per-bot sequence, never a
-- wall clock). Read with FINAL. Empty string / 0 mean "none" (portable: no Nullable).
CREATE TABLE IF NOT EXISTS bot_balances
(
    account_id                  String,
    bot_id                      String,
    as_of                       Int64,
    plan_id                     String,
    status                      String,
    granted_cents               Int64,
    debited_cents               Int64,
    expired_cents               Int64,
    balance_cents               Int64,
    owner_user_id               String,
    registered_at               Int64,
    trial_end                   Int64,
    downgrade_plan_id           String,
    downgrade_at                Int64,
    expiring                    UInt8,
    extension_pending           UInt8,
    auto_reload_enabled         UInt8,
    auto_reload_threshold_cents Int64,
    auto_reload_amount_cents    Int64,
    version                     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (account_id, bot_id)
