//! `ci-medic crcr ingest --payload FILE`: a `crcr-result` payload through the
//! checks a live result passes ([`result::screen`], the token or
//! `--verified-repo`, [`result::accept`], the hourly cap), then the row it
//! makes: printed under `--dry-run`, else written to ClickHouse by a one-step
//! plan.

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::allowlist::Allowlist;
use super::config::CrcrConfig;
use super::oidc::{self, Claims, Expect, OidcError};
use super::result::{self, MAX_RESULT_BYTES, Rejection};
use super::row::CrcrJobRow;
use crate::cli::{Context, CrcrIngestArgs};
use crate::plan::{self, Plan, Sinks, Write};
use crate::store::TableRows;

/// What an ingested payload came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Row(Box<CrcrJobRow>),
    Rejected(Rejection),
}

#[derive(Serialize)]
struct RejectedJson<'a> {
    rejected: &'a str,
}

pub async fn command(cx: &Context, args: &CrcrIngestArgs) -> Result<ExitCode> {
    let client = cx.client().ok();
    let config = cx.load_config(client.as_ref()).await?;
    let crcr = config.crcr.clone().unwrap_or_default();
    let this_repo = cx.repo()?.full();
    let list = match &args.allowlist {
        Some(path) => {
            let name = path.display().to_string();
            let text = super::read_capped(path).with_context(|| format!("cannot read {name}"))?;
            Allowlist::parse(&name, &text).map_err(|e| anyhow::anyhow!("{e}"))?
        }
        None => {
            let client = client.as_ref().context(
                "no allowlist: pass --allowlist FILE, or a token to read it from the default branch",
            )?;
            let branch = client.default_branch().await?;
            let text = client
                .file_text(&crcr.allowlist, &branch)
                .await?
                .unwrap_or_default();
            Allowlist::parse(&crcr.allowlist, &text).map_err(|e| anyhow::anyhow!("{e}"))?
        }
    };
    let ctx = cx.ctx(client, config);
    let store = ctx.store_config().is_ok();
    let now = Utc::now();
    let outcome = ingest(
        &args.payload,
        args.verified_repo.as_deref(),
        &crcr,
        &list,
        &this_repo,
        now,
        |repo| {
            let ctx = &ctx;
            async move {
                if !store {
                    return Ok(None);
                }
                let store = ctx.store().await?;
                super::queries::results_in_hour(store, &repo, now)
                    .await
                    .map(Some)
            }
        },
    )
    .await?;
    let env = &cx.env;
    let row = match outcome {
        Outcome::Rejected(why) => {
            let why = why.to_string();
            if cx.json() {
                env.print_json(&RejectedJson { rejected: &why })?;
            } else {
                env.echo_untrusted(&format!("rejected: {why}"));
            }
            return Ok(ExitCode::FAILURE);
        }
        Outcome::Row(row) => row,
    };
    // A partial update is laid over the row stored for the attempt (one
    // point query), so it never blanks what an earlier result reported.
    let row = if store {
        let stored = super::queries::stored_row(ctx.store().await?, &row).await?;
        Box::new((*row).merged_onto(stored.as_ref()))
    } else {
        row
    };
    // The row is written as every other write is: one plan step, carried
    // out by the executor (nothing under `--dry-run`).
    let mut plan = Plan::new("crcr-ingest");
    plan.push(
        Write::InsertRows {
            rows: TableRows::CrcrJobs(vec![(*row).clone()]),
        },
        "a downstream result that passed every check",
    );
    let store_handle = if cx.dry_run() {
        None
    } else {
        Some(ctx.store().await?)
    };
    let report = plan::execute(&plan, &Sinks::store(store_handle), cx.dry_run()).await;
    if let Some(error) = report.results.iter().find_map(|(_, o)| match o {
        plan::Outcome::Failed { error } => Some(error),
        _ => None,
    }) {
        anyhow::bail!("{error}");
    }
    if cx.json() {
        env.print_json(&row.to_json())?;
    } else {
        let verb = if cx.dry_run() { "would write" } else { "wrote" };
        env.echo_untrusted(&format!(
            "{verb} a crcr_workflow_job row: {} ({}) #{} at {}, job {} of run {} (attempt {}): {}",
            row.downstream_repo,
            row.level,
            row.pr_number,
            row.head_sha,
            row.job_name,
            row.run_id,
            row.run_attempt,
            if row.conclusion.is_empty() {
                &row.status
            } else {
                &row.conclusion
            },
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// The payload in `path` (a `client_payload`, or a whole
/// `repository_dispatch` event holding one) through the checks of a live
/// result. `recent` counts the repository's results of the last hour
/// (`None`: nothing to count them in). Errors are failures to read, never
/// the payload's faults: those are [`Outcome::Rejected`].
pub async fn ingest<F, Fut>(
    path: &Path,
    verified_repo: Option<&str>,
    config: &CrcrConfig,
    list: &Allowlist,
    this_repo: &str,
    received_at: DateTime<Utc>,
    recent: F,
) -> Result<Outcome>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<u64>>>,
{
    let rejected = |r| Ok(Outcome::Rejected(r));
    let bytes = read_payload(path)?;
    if bytes.len() > MAX_RESULT_BYTES {
        return rejected(Rejection::TooLarge);
    }
    let mut value: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return rejected(Rejection::Malformed(format!("not JSON: {e}"))),
    };
    if let Some(inner) = value.get_mut("client_payload") {
        value = inner.take();
    }
    let parsed = match result::screen(&value) {
        Ok(p) => p,
        Err(r) => return rejected(r),
    };
    let claims: Result<Claims, OidcError> = match verified_repo {
        Some(repo) => Ok(Claims {
            repository: repo.trim().to_string(),
            repository_owner: None,
            run_id: None,
            run_attempt: None,
            workflow: None,
            sub: None,
            iss: config.oidc_issuer.clone(),
            exp: 0,
        }),
        None => {
            let keys = oidc::fetch_jwks(&config.oidc_issuer)
                .await
                .context("cannot read the OIDC issuer's keys")?;
            oidc::verify(
                &parsed.token,
                &keys,
                &Expect {
                    issuer: &config.oidc_issuer,
                    audience: &config.audience,
                },
            )
        }
    };
    let accepted = match result::accept(
        &parsed.result,
        claims.as_ref(),
        list,
        this_repo,
        received_at,
    ) {
        Ok(a) => a,
        Err(r) => return rejected(r),
    };
    if let Some(count) = recent(accepted.repo.clone()).await?
        && let Err(r) = result::check_rate(&accepted.repo, count, config.max_results_per_hour)
    {
        return rejected(r);
    }
    Ok(Outcome::Row(Box::new(accepted.row())))
}

/// The file's bytes, at most one past the cap (so an oversized file is
/// refused without being read whole).
fn read_payload(path: &Path) -> Result<Vec<u8>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_RESULT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(bytes)
}
