//! `ci-medic crcr report`: the downstream side. A step of the downstream
//! workflow sends its job's result back to the upstream repository as a
//! `repository_dispatch` (`crcr-result`), with the job's GitHub Actions OIDC
//! token as proof of where it comes from.

use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use chrono::Utc;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::dispatch::{self, EVENT_PULL_REQUEST, PullRequestPayload};
use super::oidc;
use super::result::{self, EVENT_RESULT, ReportedResult, ResultPayload, TestCounts};
use crate::cli::{Context, CrcrReportArgs};
use crate::github::{Client, RepoName, RetryPolicy};
use crate::runtime::Env;

/// Shown in place of the token under `--dry-run`.
const REDACTED: &str = "<redacted>";

pub async fn report(cx: &Context, args: &CrcrReportArgs) -> Result<ExitCode> {
    let env = &cx.env;
    let event = event_pull_request(env);
    let upstream = args
        .upstream
        .clone()
        .or_else(|| event.as_ref().map(|p| p.upstream_repo.clone()))
        .context("no upstream repository: pass --upstream, or run on a crcr-pull-request repository_dispatch")?;
    let upstream_name = RepoName::parse(&upstream)?;
    let pr_number = args
        .pr
        .or_else(|| event.as_ref().map(|p| p.number))
        .context("no pull request: pass --pr")?;
    let head_sha = args
        .head_sha
        .clone()
        .or_else(|| event.as_ref().map(|p| p.head_sha.clone()))
        .context("no head SHA: pass --head-sha")?;
    let repository = cx.repo()?.full();
    let run_id: i64 = env
        .var("GITHUB_RUN_ID")
        .and_then(|v| v.parse().ok())
        .context("GITHUB_RUN_ID is not set: `crcr report` runs in a workflow")?;
    let run_attempt: i64 = env
        .var("GITHUB_RUN_ATTEMPT")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let job_name = args
        .job_name
        .clone()
        .or_else(|| env.var("GITHUB_JOB").map(str::to_string))
        .context("no job name: pass --job-name")?;
    let server = env.var("GITHUB_SERVER_URL").unwrap_or("https://github.com");
    let completed_at = match (&args.completed_at, args.status.as_str()) {
        (Some(t), _) => Some(*t),
        (None, "completed") => Some(Utc::now()),
        (None, _) => None,
    };
    let reported = ReportedResult {
        repository: repository.clone(),
        upstream_repo: upstream_name.full(),
        pr_number,
        head_sha,
        delivery_id: event.as_ref().map(|p| p.delivery_id.clone()),
        workflow_name: env.var("GITHUB_WORKFLOW").unwrap_or_default().to_string(),
        job_name,
        run_id,
        run_attempt,
        status: args.status.clone(),
        conclusion: args.conclusion.clone(),
        created_at: None,
        started_at: args.started_at,
        completed_at,
        tests: TestCounts {
            total: args.tests_total,
            passed: args.tests_passed,
            failed: args.tests_failed,
            skipped: args.tests_skipped,
        },
        log_url: args
            .log_url
            .clone()
            .or_else(|| Some(format!("{server}/{repository}/actions/runs/{run_id}"))),
        artifact_url: args.artifact_url.clone(),
        environment: args.environment.clone(),
    };
    if cx.dry_run() {
        let payload = ResultPayload {
            crcr: dispatch::PAYLOAD_VERSION,
            token: REDACTED.into(),
            result: reported,
        };
        env.print_json(&serde_json::json!({
            "repo": upstream_name.full(),
            "event_type": EVENT_RESULT,
            "client_payload": payload,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let token = request_oidc_token(env, &args.audience).await?;
    env.mask(&token);
    let payload = serde_json::to_value(ResultPayload {
        crcr: dispatch::PAYLOAD_VERSION,
        token,
        result: reported,
    })?;
    result::check_size(&payload)?;
    let secret = cx
        .token
        .clone()
        .context("no token: pass --token or set the `token` input (one that may dispatch to the upstream repository)")?;
    let client = Client::new(
        cx.cli
            .api_url
            .as_deref()
            .unwrap_or(crate::github::DEFAULT_API_URL),
        secret,
        upstream_name.clone(),
        RetryPolicy::default(),
    )?;
    dispatch::send(&client, &upstream_name.full(), EVENT_RESULT, &payload)
        .await
        .with_context(|| format!("cannot send the result to {upstream_name}"))?;
    env.out(&format!(
        "ci-medic: result sent to {upstream_name} (pull request #{pr_number})"
    ));
    Ok(ExitCode::SUCCESS)
}

/// The pull request of the `crcr-pull-request` dispatch this workflow runs
/// on, if it runs on one.
fn event_pull_request(env: &Env) -> Option<PullRequestPayload> {
    if env.var("GITHUB_EVENT_NAME") != Some("repository_dispatch") {
        return None;
    }
    let path = env.var("GITHUB_EVENT_PATH")?;
    let bytes =
        crate::event::read_payload(std::path::Path::new(path), crate::event::MAX_PAYLOAD_BYTES)
            .ok()?;
    let event: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    if event.get("action").and_then(|a| a.as_str()) != Some(EVENT_PULL_REQUEST) {
        return None;
    }
    serde_json::from_value(event.get("client_payload")?.get("pull_request")?.clone()).ok()
}

#[derive(Deserialize)]
struct IdToken {
    value: String,
}

/// Ask the runner for this job's OIDC token for `audience` (the workflow
/// needs `permissions: id-token: write`).
async fn request_oidc_token(env: &Env, audience: &str) -> Result<String> {
    let (Some(url), Some(bearer)) = (
        env.var("ACTIONS_ID_TOKEN_REQUEST_URL"),
        env.var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) else {
        bail!(
            "no OIDC token available: give the job `permissions: id-token: write` (ACTIONS_ID_TOKEN_REQUEST_URL is not set)"
        );
    };
    env.mask(bearer);
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!(
        "{url}{sep}audience={}",
        utf8_percent_encode(audience, NON_ALPHANUMERIC)
    );
    let body = oidc::get(&full, Some(bearer))
        .await
        .context("cannot get the job's OIDC token")?;
    let token: IdToken =
        serde_json::from_slice(&body).context("the OIDC token answer holds no `value`")?;
    Ok(token.value)
}
