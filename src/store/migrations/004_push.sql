-- One row per push to a branch. A ghstack-style push carries several commits.
CREATE TABLE IF NOT EXISTS push
(
    repository_full_name LowCardinality(String),
    ref String,
    after String,
    pushed_at DateTime64(3, 'UTC'),
    commits Array(Tuple(
        id String,
        timestamp DateTime64(3, 'UTC'),
        message String,
        author String))
)
ENGINE = ReplacingMergeTree
ORDER BY (repository_full_name, ref, pushed_at, after);
