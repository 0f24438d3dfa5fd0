-- The audit log of the comment commands' merges and reverts: one row per
-- merge or revert ci-medic carried out. Keyed by what was done, so a
-- redelivered event that records it again replaces its row (read with
-- FINAL).
CREATE TABLE IF NOT EXISTS bot_audit
(
    ts DateTime64(3, 'UTC'),
    repository_full_name LowCardinality(String),
    pr_number UInt64,
    action LowCardinality(String),
    sha String,
    actor String,
    reason String,
    classification LowCardinality(String),
    flags Array(String),
    result LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY (repository_full_name, pr_number, action, sha);
