//! The test ClickHouse, with a database of its own for each test.
//!
//! The server is the one `CLICKHOUSE_URL` names (as `.ci/run` exports it);
//! when it is unset, the first test that needs ClickHouse starts one with
//! `tests/clickhouse/start.sh` (which creates `.venv/` and installs the engine
//! on first use) and every other test of the run shares it. A server that
//! cannot be started fails the tests that need it: they are never skipped.
//!
//! The started server stops when the test process ends, however it ends: it
//! watches its standard input, a pipe whose only writer this process holds
//! until exit, and shuts down (removing its data) when the pipe closes.

use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::OnceLock;

use ci_medic::store::{Store, StoreConfig};
use clickhouse::sql::Identifier;
use clickhouse::{RowOwned, RowRead};

const URL_VAR: &str = "CLICKHOUSE_URL";

/// The server this process started, if it started one.
struct Started {
    url: String,
    /// Held open for the life of the process: the server stops at its EOF.
    _lifeline: ChildStdin,
}

static STARTED: OnceLock<Result<Started, String>> = OnceLock::new();

/// The server's URL: `CLICKHOUSE_URL`, or a server started for this test run.
/// Panics (failing the test) when no server can be had.
pub fn url() -> String {
    if let Ok(url) = std::env::var(URL_VAR)
        && !url.trim().is_empty()
    {
        return url;
    }
    match STARTED.get_or_init(start) {
        Ok(started) => started.url.clone(),
        Err(why) => panic!("no test ClickHouse: {why}"),
    }
}

/// Runs `tests/clickhouse/start.sh` once, with its state (pid, port, log)
/// under Cargo's temporary directory for integration tests.
fn start() -> Result<Started, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/clickhouse/start.sh");
    let state = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("clickhouse")
        .join(std::process::id().to_string());
    let mut child = Command::new("bash")
        .arg(&script)
        .env("CLICKHOUSE_STATE_DIR", &state)
        .env("CLICKHOUSE_STOP_WITH_STDIN", "1")
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let lifeline = child
        .stdin
        .take()
        .ok_or_else(|| "no pipe to the server's stdin".to_string())?;
    // Reads stdout and stderr to their end; the server itself writes to its
    // log file, so this returns once start.sh has printed the URL and exited.
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{} did not finish: {e}", script.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}):\n{stderr}",
            script.display(),
            out.status
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let url = stdout
        .lines()
        .find_map(|l| l.strip_prefix("CLICKHOUSE_URL="))
        .map(str::to_owned)
        .ok_or_else(|| format!("{} printed no URL:\n{stdout}\n{stderr}", script.display()))?;
    eprintln!("started the test ClickHouse at {url} for this test run\n{stderr}");
    Ok(Started {
        url,
        _lifeline: lifeline,
    })
}

/// A database name no other test uses: `ci_medic_it_{test}_{random}`.
pub fn database(test: &str) -> String {
    let mut random = [0u8; 6];
    getrandom::fill(&mut random).expect("random bytes");
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("ci_medic_it_{test}_{suffix}")
}

/// The store settings for `database` on the server at `url`, with the
/// credentials `CLICKHOUSE_USER` / `CLICKHOUSE_PASSWORD` give.
pub fn config(url: &str, database: &str) -> StoreConfig {
    StoreConfig {
        url: url.to_owned(),
        user: std::env::var("CLICKHOUSE_USER").ok(),
        password: std::env::var("CLICKHOUSE_PASSWORD").ok(),
        database: database.to_owned(),
    }
}

/// A store on `database` (which `migrate` creates, not this).
pub async fn connect(url: &str, database: &str) -> Store {
    Store::connect(&config(url, database))
        .await
        .expect("connect to the test ClickHouse")
}

/// Drops the store's database, at the end of a test.
pub async fn drop_database(store: &Store) {
    store
        .client()
        .query("DROP DATABASE IF EXISTS ?")
        .bind(Identifier(store.database()))
        .execute()
        .await
        .expect("drop the test database");
}

/// The one row `sql` returns.
pub async fn fetch_one<T: RowOwned + RowRead>(store: &Store, sql: &str) -> T {
    store
        .client()
        .query(sql)
        .fetch_one::<T>()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}
