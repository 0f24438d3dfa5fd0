-- Downstream (out-of-tree) CI results: one row per attempt of one downstream
-- job, after test-infra's `crcr_workflow_job` (formerly `oot_workflow_job`).
-- Keyed so a result delivered twice replaces itself (read with FINAL);
-- `updated_at` is the version.
CREATE TABLE IF NOT EXISTS crcr_workflow_job
(
    downstream_repo LowCardinality(String),
    level LowCardinality(String),
    upstream_repo LowCardinality(String),
    pr_number UInt64,
    head_sha String,
    workflow_name String,
    job_name String,
    run_id Int64,
    run_attempt Int64,
    check_run_id Int64,
    status LowCardinality(String),
    conclusion LowCardinality(String),
    started_at DateTime64(3, 'UTC'),
    completed_at DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC'),
    queue_time_s Nullable(Int64),
    execution_time_s Nullable(Int64),
    tests_total Int64,
    tests_passed Int64,
    tests_failed Int64,
    tests_skipped Int64,
    log_url String,
    artifact_url String,
    environment String,
    trusted Bool,
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (downstream_repo, run_id, job_name, run_attempt);
