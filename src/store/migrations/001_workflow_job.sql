-- One row per job attempt. A job is written again as it changes (queued,
-- in progress, completed, analysed); the row with the newest `updated_at`
-- wins, so readers use FINAL. Timestamps are UTC milliseconds; an unset
-- timestamp (a job not started yet) is the epoch.
CREATE TABLE IF NOT EXISTS workflow_job
(
    id Int64,
    run_id Int64,
    run_attempt Int64,
    repository_full_name LowCardinality(String),
    workflow_name LowCardinality(String),
    workflow_event LowCardinality(String),
    head_sha String,
    head_branch String,
    name String,
    labels Array(String),
    runner_name String,
    status LowCardinality(String),
    conclusion LowCardinality(String),
    created_at DateTime64(3, 'UTC'),
    started_at DateTime64(3, 'UTC'),
    completed_at DateTime64(3, 'UTC'),
    steps Array(Tuple(
        number Int64,
        name String,
        status String,
        conclusion String,
        started_at DateTime64(3, 'UTC'),
        completed_at DateTime64(3, 'UTC'))),
    failure Tuple(
        rule String,
        category String,
        line String,
        line_num Int64,
        captures Array(String),
        fingerprint String),
    html_url String,
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (repository_full_name, id, run_id);
