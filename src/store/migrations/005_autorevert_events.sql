-- The audit log of autorevert: one row per decision, dry runs included.
CREATE TABLE IF NOT EXISTS autorevert_events
(
    ts DateTime64(3, 'UTC'),
    repository_full_name LowCardinality(String),
    action Enum8('none' = 0, 'restart' = 1, 'revert' = 2, 'notify' = 3),
    commit_sha String,
    workflows Array(String),
    signals Array(String),
    verdict String,
    reason String,
    dry_run Bool,
    failed Bool,
    notes String
)
ENGINE = MergeTree
ORDER BY (repository_full_name, ts);
