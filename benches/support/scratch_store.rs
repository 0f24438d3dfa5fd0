//! A scratch ClickHouse database for a bench: a fresh name, migrated, and
//! dropped when the bench is done with it (whether it succeeded or not).

use ci_medic::store::{Store, StoreConfig};

/// Runs `bench` on a migrated store in the new database
/// `ci_medic_bench_{name}_{random}` on the server at `url` (credentials from
/// `CLICKHOUSE_USER` / `CLICKHOUSE_PASSWORD`), then drops that database.
pub async fn with_scratch_store<T>(
    name: &str,
    url: String,
    bench: impl AsyncFnOnce(&Store) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut random = [0u8; 4];
    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("{e}"))?;
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let store = Store::connect(&StoreConfig {
        url,
        user: std::env::var("CLICKHOUSE_USER").ok(),
        password: std::env::var("CLICKHOUSE_PASSWORD").ok(),
        database: format!("ci_medic_bench_{name}_{suffix}"),
    })
    .await?;
    store.migrate().await?;
    let result = bench(&store).await;
    store
        .client()
        .query("DROP DATABASE IF EXISTS ?")
        .bind(clickhouse::sql::Identifier(store.database()))
        .execute()
        .await?;
    result
}
