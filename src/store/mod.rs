//! Job history in ClickHouse, for repositories that outgrow the GitHub API.
//!
//! - [`schema`]: the migrations that create the tables, and the runner that
//!   applies them once each;
//! - [`rows`]: one Rust type per table row;
//! - [`queries`]: the inserts and the lookups later features need, written
//!   the way that scales (server-side `{name:Type}` parameters, `FINAL`,
//!   `SELECT 1 ... LIMIT 1` existence checks, one batched query per question).
//!
//! The client keeps the `clickhouse` crate's defaults: LZ4-compressed inserts
//! and schema validation of every row (`RowBinaryWithNamesAndTypes`).

use std::fmt;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

pub mod actions;
pub mod autorevert;
pub mod bot_audit;
pub mod queries;
pub mod rows;
pub mod schema;

pub use queries::FlakyJob;
pub use rows::{
    AutorevertAction, AutorevertEvent, JobFailure, JobRow, JobStep, PushCommit, PushRow, TableRows,
    WorkflowRunRow,
};
pub use schema::{MIGRATIONS, Migration};

/// The database used when the config names none.
pub const DEFAULT_DATABASE: &str = "ci_medic";

/// Where the store lives. Embedded in the repository config.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StoreConfig {
    /// The HTTP(S) endpoint, e.g. `https://host:8443`.
    pub url: String,
    /// The user; ClickHouse's `default` user when absent.
    #[serde(default)]
    pub user: Option<String>,
    /// The password. Better supplied at run time from a secret than written
    /// into a config file; never printed (see the `Debug` impl).
    #[serde(default)]
    pub password: Option<String>,
    /// The database holding ci-medic's tables; created by [`Store::migrate`].
    #[serde(default = "default_database")]
    pub database: String,
}

fn default_database() -> String {
    DEFAULT_DATABASE.to_owned()
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &redact_url(&self.url))
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("database", &self.database)
            .finish()
    }
}

/// The URL without any credentials it may carry.
fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Only fails for URLs that cannot have credentials at all.
                let _ = parsed.set_password(Some("redacted"));
            }
            parsed.to_string()
        }
        Err(_) => "<invalid url>".to_owned(),
    }
}

/// A handle on the ClickHouse store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// Bound to the store's database.
    client: clickhouse::Client,
    /// The same server with the user's default database: creates ours.
    server: clickhouse::Client,
    database: String,
}

impl Store {
    /// Builds a client for `config` and checks the server answers.
    ///
    /// The database need not exist yet: [`Store::migrate`] creates it.
    pub async fn connect(config: &StoreConfig) -> anyhow::Result<Store> {
        let url = url::Url::parse(&config.url).with_context(|| {
            format!("clickhouse url {:?} is not a URL", redact_url(&config.url))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!(
                "clickhouse url {:?} must be http or https (the HTTP interface)",
                redact_url(&config.url)
            );
        }
        if config.database.trim().is_empty() {
            bail!("clickhouse database name is empty");
        }

        // The crate sends none of the URL's own query parameters but takes a
        // `?database=` from it; the config names the database, so drop them.
        let mut endpoint = url;
        endpoint.set_query(None);
        let mut server = clickhouse::Client::default()
            .with_url(endpoint.as_str())
            .with_product_info("ci-medic", env!("CARGO_PKG_VERSION"));
        if let Some(user) = &config.user {
            server = server.with_user(user.as_str());
        }
        if let Some(password) = &config.password {
            server = server.with_password(password.as_str());
        }
        let client = server.clone().with_database(config.database.as_str());

        server
            .query("SELECT 1")
            .fetch_one::<u8>()
            .await
            .with_context(|| format!("cannot reach clickhouse at {}", redact_url(&config.url)))?;

        Ok(Store {
            client,
            server,
            database: config.database.clone(),
        })
    }

    /// The client, bound to the store's database, for queries this module
    /// does not offer.
    pub fn client(&self) -> &clickhouse::Client {
        &self.client
    }

    /// The store's database.
    pub fn database(&self) -> &str {
        &self.database
    }
}

/// The ClickHouse exception code of a failed store call (`Code: 62` for a
/// syntax error, `81` for an unknown database...), if the server sent one.
pub fn exception_code(err: &anyhow::Error) -> Option<u32> {
    err.chain().find_map(|cause| {
        let clickhouse::error::Error::BadResponse(message) =
            cause.downcast_ref::<clickhouse::error::Error>()?
        else {
            return None;
        };
        let rest = &message[message.find("Code: ")? + "Code: ".len()..];
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .map_or(rest, |end| &rest[..end]);
        digits.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_rejects_unknown_keys() {
        let config: StoreConfig =
            serde_yaml::from_str("url: http://localhost:8123\n").expect("test value");
        assert_eq!(config.database, "ci_medic");
        assert_eq!(config.user, None);
        assert_eq!(config.password, None);

        let err = serde_yaml::from_str::<StoreConfig>("url: http://x\ndatabse: y\n")
            .expect_err("should fail");
        assert!(err.to_string().contains("databse"), "{err}");
        assert!(serde_yaml::from_str::<StoreConfig>("database: x\n").is_err());
    }

    #[test]
    fn debug_never_shows_the_password() {
        let config = StoreConfig {
            url: "https://reader:hunter2@ch.example:8443".into(),
            user: Some("reader".into()),
            password: Some("s3cret".into()),
            database: "ci_medic".into(),
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("ch.example"), "{shown}");
    }

    #[test]
    fn exception_code_reads_the_server_code() {
        let err = anyhow::Error::new(clickhouse::error::Error::BadResponse(
            "Code: 62. DB::Exception: Syntax error. (SYNTAX_ERROR)".into(),
        ))
        .context("running a query");
        assert_eq!(exception_code(&err), Some(62));
        assert_eq!(
            exception_code(&anyhow::anyhow!("Code: 62. elsewhere")),
            None
        );
    }
}
