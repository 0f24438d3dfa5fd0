//! The test ClickHouse: the server `CLICKHOUSE_URL` names
//! (`tests/clickhouse/start.sh` starts one and prints the URL), with a
//! database of its own for each test.
//!
//! Without `CLICKHOUSE_URL` the tests that need it say they are skipped and
//! pass, except under `CI=true`, where a missing server is a failure.

use ci_medic::store::{Store, StoreConfig};
use clickhouse::sql::Identifier;
use clickhouse::{RowOwned, RowRead};

const URL_VAR: &str = "CLICKHOUSE_URL";

/// The server's URL, or `None` when the tests are to be skipped.
pub fn url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => panic!(
            "{URL_VAR} is not set but CI=true: start the test ClickHouse with \
             tests/clickhouse/start.sh and export the CLICKHOUSE_URL it prints"
        ),
        _ => {
            eprintln!(
                "skipped: {URL_VAR} is not set (tests/clickhouse/start.sh starts a test ClickHouse)"
            );
            None
        }
    }
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
