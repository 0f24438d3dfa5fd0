-- One row per workflow run attempt; the newest `updated_at` wins.
CREATE TABLE IF NOT EXISTS workflow_run
(
    id Int64,
    run_attempt Int64,
    repository_full_name LowCardinality(String),
    name LowCardinality(String),
    path String,
    event LowCardinality(String),
    head_sha String,
    head_branch String,
    status LowCardinality(String),
    conclusion LowCardinality(String),
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    html_url String
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (repository_full_name, id, run_attempt);
