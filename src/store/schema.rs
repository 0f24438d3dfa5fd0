//! The schema: migrations compiled into the binary and the runner that
//! applies each one once, recording it in `schema_migrations`.
//!
//! A migration is a file `migrations/NNN_name.sql` of one or more statements
//! separated by `;`. Migrations are append-only: an applied migration that
//! has been edited since is an error, not something to re-run.

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use clickhouse::Row;
use clickhouse::sql::Identifier;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Store;

/// One schema change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Its order; the `NNN` of the file name.
    pub version: u32,
    /// The rest of the file name.
    pub name: &'static str,
    pub sql: &'static str,
}

/// A [`Migration`] from its version and the file `migrations/NNN_name.sql`.
macro_rules! migration {
    ($version:literal, $number:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("migrations/", $number, "_", $name, ".sql")),
        }
    };
}

/// Every migration, in the order they apply. A test checks this list
/// against the files in `migrations/`.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "001", "workflow_job"),
    migration!(2, "002", "workflow_job_by_head_sha"),
    migration!(3, "003", "workflow_run"),
    migration!(4, "004", "push"),
    migration!(5, "005", "autorevert_events"),
    migration!(6, "006", "workflow_job_input"),
    migration!(7, "007", "push_input"),
    migration!(8, "008", "crcr_workflow_job"),
    migration!(9, "009", "bot_audit"),
    migration!(10, "010", "actions"),
];

/// The table that records applied migrations.
const MIGRATIONS_TABLE_DDL: &str = "\
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY version";

#[derive(Debug, Clone, Row, Serialize, Deserialize)]
struct AppliedMigration {
    version: u32,
    name: String,
    checksum: String,
    #[serde(with = "crate::store::rows::millis")]
    applied_at: DateTime<Utc>,
}

impl Migration {
    /// Its file name without `.sql`, e.g. `001_workflow_job`.
    pub fn label(&self) -> String {
        format!("{:03}_{}", self.version, self.name)
    }

    /// The SHA-256 of the migration's text, to notice edits.
    pub fn checksum(&self) -> String {
        Sha256::digest(self.sql.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The statements of the migration, in order.
    pub fn statements(&self) -> Vec<&'static str> {
        split_statements(self.sql)
    }
}

impl Store {
    /// Creates the database and applies the migrations not applied yet.
    /// Returns the versions applied by this call: empty when the schema is
    /// already current, so running it again is a no-op.
    ///
    /// Every statement is idempotent (`IF NOT EXISTS`), so two runners racing
    /// or a run cut short leave a schema the next run completes.
    pub async fn migrate(&self) -> anyhow::Result<Vec<u32>> {
        self.server
            .query("CREATE DATABASE IF NOT EXISTS ?")
            .bind(Identifier(&self.database))
            .execute()
            .await
            .with_context(|| format!("creating database {}", self.database))?;
        self.client
            .query_raw(MIGRATIONS_TABLE_DDL)
            .execute()
            .await
            .context("creating schema_migrations")?;

        let applied = self.applied_migrations().await?;
        let pending = pending_migrations(MIGRATIONS, &applied)?;

        let mut done = Vec::new();
        for migration in pending {
            for statement in migration.statements() {
                self.client
                    .query_raw(statement)
                    .execute()
                    .await
                    .with_context(|| {
                        format!(
                            "applying migration {:03}_{}",
                            migration.version, migration.name
                        )
                    })?;
            }
            let mut insert = self
                .client
                .insert::<AppliedMigration>("schema_migrations")
                .await
                .context("recording a migration")?;
            insert
                .write(&AppliedMigration {
                    version: migration.version,
                    name: migration.name.to_owned(),
                    checksum: migration.checksum(),
                    applied_at: Utc::now(),
                })
                .await
                .context("recording a migration")?;
            insert.end().await.context("recording a migration")?;
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "applied migration"
            );
            done.push(migration.version);
        }
        Ok(done)
    }
}

impl Store {
    /// The migrations [`Store::migrate`] would apply now. Only reads: a
    /// database or `schema_migrations` table that does not exist yet is
    /// left so, and every migration is pending.
    pub async fn pending_migrations(&self) -> anyhow::Result<Vec<&'static Migration>> {
        let exists = self
            .server
            .query(
                "SELECT count() FROM system.tables \
                 WHERE database = ? AND name = 'schema_migrations'",
            )
            .bind(self.database.as_str())
            .fetch_one::<u64>()
            .await
            .context("looking for schema_migrations")?;
        let applied = if exists == 0 {
            Vec::new()
        } else {
            self.applied_migrations().await?
        };
        pending_migrations(MIGRATIONS, &applied)
    }

    async fn applied_migrations(&self) -> anyhow::Result<Vec<AppliedMigration>> {
        self.client
            .query("SELECT ?fields FROM schema_migrations FINAL ORDER BY version")
            .fetch_all::<AppliedMigration>()
            .await
            .context("reading schema_migrations")
    }
}

/// The migrations still to apply, after checking the applied ones are ours
/// and unchanged.
fn pending_migrations<'a>(
    all: &'a [Migration],
    applied: &[AppliedMigration],
) -> anyhow::Result<Vec<&'a Migration>> {
    for record in applied {
        let Some(known) = all.iter().find(|m| m.version == record.version) else {
            bail!(
                "the database has migration {:03}_{} that this ci-medic does not know: \
                 is it older than the one that migrated the database?",
                record.version,
                record.name
            );
        };
        if known.checksum() != record.checksum {
            bail!(
                "migration {:03}_{} changed after it was applied; add a new migration instead",
                known.version,
                known.name
            );
        }
    }
    Ok(all
        .iter()
        .filter(|m| !applied.iter().any(|r| r.version == m.version))
        .collect())
}

/// Splits SQL text on the `;` that end statements, skipping those inside
/// quotes and comments. Pieces holding only whitespace and comments are
/// dropped.
fn split_statements(sql: &str) -> Vec<&str> {
    let bytes = sql.as_bytes();
    let mut statements = Vec::new();
    let mut start = 0;
    let mut has_code = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"' | b'`') => {
                has_code = true;
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == b'\\' {
                        i += 2;
                    } else if bytes[i] == quote {
                        if bytes.get(i + 1) == Some(&quote) {
                            i += 2;
                        } else {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |at| i + at + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |at| i + 2 + at + 2);
            }
            b';' => {
                if has_code {
                    statements.push(sql[start..i].trim());
                }
                has_code = false;
                i += 1;
                start = i;
            }
            byte => {
                has_code |= !byte.is_ascii_whitespace();
                i += 1;
            }
        }
    }
    if has_code {
        statements.push(sql[start..].trim());
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_not_empty() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, index + 1, "{}", migration.name);
            assert!(!migration.statements().is_empty(), "{}", migration.name);
        }
    }

    #[test]
    fn the_list_matches_the_migration_files() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/migrations");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("test value")
            .map(|entry| {
                entry
                    .expect("test value")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:03}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(files, listed);
        for (migration, file) in MIGRATIONS.iter().zip(&files) {
            assert_eq!(
                migration.sql,
                std::fs::read_to_string(dir.join(file)).expect("test value")
            );
        }
    }

    #[test]
    fn every_statement_is_idempotent() {
        for migration in MIGRATIONS {
            for statement in migration.statements() {
                assert!(
                    statement.contains("IF NOT EXISTS"),
                    "{}: {statement}",
                    migration.name
                );
            }
        }
    }

    #[test]
    fn split_skips_quotes_and_comments() {
        let sql = "-- a; comment\nCREATE TABLE a (s String DEFAULT ';') ENGINE = Memory;\n\
                   /* b; */ SELECT 'it''s; fine', `we;ird`, \"x;\", 'back\\'slash;';\n\
                   -- trailing comment only\n";
        assert_eq!(
            split_statements(sql),
            vec![
                "-- a; comment\nCREATE TABLE a (s String DEFAULT ';') ENGINE = Memory",
                "/* b; */ SELECT 'it''s; fine', `we;ird`, \"x;\", 'back\\'slash;'",
            ]
        );
        assert!(split_statements("  ;\n-- nothing\n;").is_empty());
        assert_eq!(split_statements("SELECT 1"), vec!["SELECT 1"]);
        // Unterminated quotes and comments do not panic.
        assert_eq!(split_statements("SELECT 'a;"), vec!["SELECT 'a;"]);
        assert_eq!(split_statements("SELECT 1 /* ;"), vec!["SELECT 1 /* ;"]);
        assert_eq!(split_statements("SELECT 'é\\é;'"), vec!["SELECT 'é\\é;'"]);
    }

    fn record(migration: &Migration) -> AppliedMigration {
        AppliedMigration {
            version: migration.version,
            name: migration.name.to_owned(),
            checksum: migration.checksum(),
            applied_at: Utc::now(),
        }
    }

    #[test]
    fn pending_skips_applied_and_refuses_edits_and_unknowns() {
        let applied = vec![record(&MIGRATIONS[0]), record(&MIGRATIONS[1])];
        let pending = pending_migrations(MIGRATIONS, &applied).expect("test value");
        assert_eq!(
            pending.iter().map(|m| m.version).collect::<Vec<_>>(),
            (3..=MIGRATIONS.len() as u32).collect::<Vec<_>>()
        );

        let mut edited = record(&MIGRATIONS[0]);
        edited.checksum = "0".repeat(64);
        let err = pending_migrations(MIGRATIONS, &[edited]).expect_err("should fail");
        assert!(err.to_string().contains("changed after"), "{err}");

        let mut unknown = record(&MIGRATIONS[0]);
        unknown.version = 999;
        let err = pending_migrations(MIGRATIONS, &[unknown]).expect_err("should fail");
        assert!(err.to_string().contains("does not know"), "{err}");
    }
}
