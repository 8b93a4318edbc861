-- The billing day of a usage session is decided by the rules (billing_rules.periods: the UTC
-- day its billing_session_start falls on, R7), not here: from this version the writer fills
-- billing_day, and the column stops deriving it. Rows written before keep the value they
-- were stored with (the same day). The default only marks a writer that forgot it.
ALTER TABLE usage_sessions MODIFY COLUMN billing_day Date DEFAULT toDate(0)
