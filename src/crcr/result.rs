//! Downstream to upstream: a downstream job's result, sent back as a
//! `repository_dispatch` of event type [`EVENT_RESULT`], and what the
//! upstream repository makes of it.
//!
//! The payload is split into what is **trusted** (the repository the OIDC
//! token proves, its level in the allowlist, the time we received it, whether
//! the head it names is the PR's real head) and what is only **reported**
//! (names, times, counts, URLs: sanitised, length-capped, URLs restricted to
//! http/https). Everything here is pure.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::allowlist::{Allowlist, Level};
use super::oidc::{Claims, OidcError};
use super::row::CrcrJobRow;
use crate::report::markdown::{code, inline, is_bidi_control};

/// The event type results come back as.
pub const EVENT_RESULT: &str = "crcr-result";
/// A result payload larger than this is refused unread (the upstream
/// pipeline's cap).
pub const MAX_RESULT_BYTES: usize = 2 * 1024 * 1024;
/// Workflow and job names are cut to this many characters.
const MAX_NAME: usize = 200;
/// Environment descriptions are cut to this many characters.
const MAX_ENVIRONMENT: usize = 200;
/// URLs longer than this are dropped (browsers and GitHub cope with ~2000).
const MAX_URL: usize = 2000;

/// What `ci-medic crcr report` sends (the `client_payload`): the token that
/// proves its origin and the result (two top-level keys of the ten GitHub
/// allows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultPayload {
    pub crcr: u32,
    /// The downstream job's OIDC token.
    pub token: String,
    pub result: ReportedResult,
}

/// The fields a downstream job reports about itself (all untrusted).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportedResult {
    /// The downstream repository it claims to be.
    pub repository: String,
    pub upstream_repo: String,
    pub pr_number: u64,
    pub head_sha: String,
    #[serde(default)]
    pub delivery_id: Option<String>,
    pub workflow_name: String,
    pub job_name: String,
    pub run_id: i64,
    #[serde(default = "one")]
    pub run_attempt: i64,
    /// `queued`, `in_progress` or `completed`.
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub tests: TestCounts,
    #[serde(default)]
    pub log_url: Option<String>,
    #[serde(default)]
    pub artifact_url: Option<String>,
    #[serde(default)]
    pub environment: Option<String>,
}

fn one() -> i64 {
    1
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCounts {
    #[serde(default)]
    pub total: u32,
    #[serde(default)]
    pub passed: u32,
    #[serde(default)]
    pub failed: u32,
    #[serde(default)]
    pub skipped: u32,
}

/// A job conclusion, as GitHub names them.
///
/// Not [`crate::event::Conclusion`]: this is the closed set a downstream CI
/// may report, and a result with any other value (`stale`,
/// `startup_failure`, one GitHub adds later) is refused, not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    Success,
    Failure,
    Cancelled,
    TimedOut,
    Skipped,
    Neutral,
    ActionRequired,
}

impl Conclusion {
    pub fn parse(s: &str) -> Option<Conclusion> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Cancelled => "cancelled",
            Conclusion::TimedOut => "timed_out",
            Conclusion::Skipped => "skipped",
            Conclusion::Neutral => "neutral",
            Conclusion::ActionRequired => "action_required",
        }
    }

    /// A failure that pages the on-calls (cancelled and skipped do not).
    pub fn is_failure(self) -> bool {
        matches!(self, Conclusion::Failure | Conclusion::TimedOut)
    }
}

/// Why a result was refused. Nothing is written for a refused result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the result payload is larger than {MAX_RESULT_BYTES} bytes")]
    TooLarge,
    #[error("the result payload is malformed: {0}")]
    Malformed(String),
    #[error("the result's proof of origin was refused: {0}")]
    Token(#[from] OidcError),
    #[error("the OIDC token is from {token}, but the result claims to be from {claimed}")]
    WrongRepository { token: String, claimed: String },
    #[error("{0} is not in the downstream CI allowlist")]
    NotAllowlisted(String),
    #[error("{0} is allowlisted at L1: its results are not accepted")]
    DispatchOnly(String),
    #[error("the result is for {0}, not this repository")]
    OtherUpstream(String),
    #[error("the result's {field} is invalid: {why}")]
    Invalid { field: &'static str, why: String },
    #[error(
        "{repo} reported {count} results in the last hour; at most {cap} are accepted (crcr.max-results-per-hour)"
    )]
    TooMany { repo: String, count: u64, cap: u32 },
    #[error(
        "{repo}'s results of the last hour cannot be counted without ClickHouse over more than {max} open pull requests, so none is accepted (crcr.max-results-per-hour): configure ClickHouse"
    )]
    Uncounted { repo: String, max: usize },
}

/// Refuse a result of `repo` once `count` results of it arrived in the last
/// hour and `cap` is reached.
pub fn check_rate(repo: &str, count: u64, cap: u32) -> Result<(), Rejection> {
    if count >= u64::from(cap) {
        Err(Rejection::TooMany {
            repo: repo.to_string(),
            count,
            cap,
        })
    } else {
        Ok(())
    }
}

/// The checks a payload passes before anything is read for it: its size,
/// then its shape.
pub fn screen(value: &serde_json::Value) -> Result<ResultPayload, Rejection> {
    check_size(value)?;
    parse_payload(value)
}

/// A result whose origin is verified, split into trusted and reported parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The repository as the allowlist spells it (the token proved it).
    pub repo: String,
    pub level: Level,
    pub oncalls: Vec<String>,
    pub received_at: DateTime<Utc>,
    pub upstream_repo: String,
    pub pr_number: u64,
    /// The head the result is about (40 hex digits, checked).
    pub head_sha: String,
    /// The reported part, sanitised.
    pub reported: Sanitised,
}

/// Reported fields made safe to store and show.
#[derive(Debug, Clone, PartialEq)]
pub struct Sanitised {
    pub workflow_name: String,
    pub job_name: String,
    pub run_id: i64,
    pub run_attempt: i64,
    pub status: String,
    pub conclusion: Option<Conclusion>,
    pub created_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub tests: TestCounts,
    pub log_url: Option<String>,
    pub artifact_url: Option<String>,
    pub environment: String,
}

/// Parse a `client_payload` (already size-checked by [`check_size`]).
pub fn parse_payload(value: &serde_json::Value) -> Result<ResultPayload, Rejection> {
    let payload: ResultPayload = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        Rejection::Malformed(format!("at `{path}`: {}", e.into_inner()))
    })?;
    if payload.crcr != 1 {
        return Err(Rejection::Malformed(format!(
            "payload version {} is not 1",
            payload.crcr
        )));
    }
    Ok(payload)
}

/// Refuse a payload over [`MAX_RESULT_BYTES`] (as serialised).
pub fn check_size(value: &serde_json::Value) -> Result<(), Rejection> {
    let size = serde_json::to_vec(value).map_or(usize::MAX, |v| v.len());
    if size > MAX_RESULT_BYTES {
        Err(Rejection::TooLarge)
    } else {
        Ok(())
    }
}

/// Decide whether a result is accepted: its token verified (`claims`), the
/// repository it proves equal to the one it claims (any case) and
/// allowlisted at L2 or above, addressed to `this_repo`, and its fields
/// valid. Pure.
pub fn accept(
    reported: &ReportedResult,
    claims: Result<&Claims, &OidcError>,
    list: &Allowlist,
    this_repo: &str,
    received_at: DateTime<Utc>,
) -> Result<Accepted, Rejection> {
    let claims = claims.map_err(|e| Rejection::Token(e.clone()))?;
    if !claims
        .repository
        .eq_ignore_ascii_case(reported.repository.trim())
    {
        return Err(Rejection::WrongRepository {
            token: clip(&claims.repository, 140),
            claimed: clip(&reported.repository, 140),
        });
    }
    let entry = list
        .get(&claims.repository)
        .ok_or_else(|| Rejection::NotAllowlisted(clip(&claims.repository, 140)))?;
    if !entry.level.records_results() {
        return Err(Rejection::DispatchOnly(entry.repo.clone()));
    }
    if !reported
        .upstream_repo
        .trim()
        .eq_ignore_ascii_case(this_repo)
    {
        return Err(Rejection::OtherUpstream(clip(&reported.upstream_repo, 140)));
    }
    let sha = reported.head_sha.trim().to_ascii_lowercase();
    if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("head_sha", "not 40 hexadecimal digits"));
    }
    if reported.pr_number == 0 {
        return Err(invalid("pr_number", "0"));
    }
    if reported.run_id <= 0 || reported.run_attempt <= 0 {
        return Err(invalid("run_id", "run ids and attempts are positive"));
    }
    let status = match reported.status.trim() {
        s @ ("queued" | "in_progress" | "completed") => s.to_string(),
        _ => return Err(invalid("status", "not queued, in_progress or completed")),
    };
    let conclusion = match reported.conclusion.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => Some(
            Conclusion::parse(c).ok_or_else(|| invalid("conclusion", "not a job conclusion"))?,
        ),
    };
    if status == "completed" && conclusion.is_none() {
        return Err(invalid("conclusion", "a completed job has one"));
    }
    let workflow_name = text(&reported.workflow_name, MAX_NAME);
    let job_name = text(&reported.job_name, MAX_NAME);
    if job_name.is_empty() {
        return Err(invalid("job_name", "empty"));
    }
    Ok(Accepted {
        repo: entry.repo.clone(),
        level: entry.level,
        oncalls: entry.oncalls.clone(),
        received_at,
        upstream_repo: this_repo.to_string(),
        pr_number: reported.pr_number,
        head_sha: sha,
        reported: Sanitised {
            workflow_name,
            job_name,
            run_id: reported.run_id,
            run_attempt: reported.run_attempt,
            status,
            conclusion,
            created_at: reported.created_at,
            started_at: reported.started_at,
            completed_at: reported.completed_at,
            tests: reported.tests,
            log_url: reported.log_url.as_deref().and_then(web_url),
            artifact_url: reported.artifact_url.as_deref().and_then(web_url),
            environment: text(
                reported.environment.as_deref().unwrap_or_default(),
                MAX_ENVIRONMENT,
            ),
        },
    })
}

fn invalid(field: &'static str, why: &str) -> Rejection {
    Rejection::Invalid {
        field,
        why: why.to_string(),
    }
}

/// One line of reported text: no control or bidi characters, trimmed, cut.
pub fn text(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect();
    clip(flat.trim(), max)
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A reported URL, kept only when it is http(s), credential-free and of a
/// sane length.
pub fn web_url(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() || s.len() > MAX_URL {
        return None;
    }
    let url = url::Url::parse(s).ok()?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none();
    ok.then(|| url.to_string())
}

impl Accepted {
    /// The ClickHouse row.
    pub fn row(&self) -> CrcrJobRow {
        let r = &self.reported;
        let secs = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| match (a, b) {
            (Some(a), Some(b)) if b >= a => Some((b - a).num_seconds()),
            _ => None,
        };
        CrcrJobRow {
            downstream_repo: self.repo.clone(),
            level: self.level.to_string(),
            upstream_repo: self.upstream_repo.clone(),
            pr_number: self.pr_number,
            head_sha: self.head_sha.clone(),
            workflow_name: r.workflow_name.clone(),
            job_name: r.job_name.clone(),
            run_id: r.run_id,
            run_attempt: r.run_attempt,
            check_run_id: 0,
            status: r.status.clone(),
            conclusion: r
                .conclusion
                .map(Conclusion::as_str)
                .unwrap_or_default()
                .into(),
            started_at: r.started_at,
            completed_at: r.completed_at,
            received_at: self.received_at,
            queue_time_s: secs(r.created_at, r.started_at),
            execution_time_s: secs(r.started_at, r.completed_at),
            tests_total: i64::from(r.tests.total),
            tests_passed: i64::from(r.tests.passed),
            tests_failed: i64::from(r.tests.failed),
            tests_skipped: i64::from(r.tests.skipped),
            log_url: r.log_url.clone().unwrap_or_default(),
            artifact_url: r.artifact_url.clone().unwrap_or_default(),
            environment: r.environment.clone(),
            trusted: true,
            updated_at: self.received_at,
        }
    }
}

/// The check run a result puts on the PR head: `crcr/<owner>/<repo>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRunContent {
    pub name: String,
    pub head_sha: String,
    /// `queued`, `in_progress` or `completed`.
    pub status: String,
    pub conclusion: Option<String>,
    pub title: String,
    /// Markdown; reported text escaped.
    pub summary: String,
    pub details_url: Option<String>,
}

impl CheckRunContent {
    /// The check-run write's form of it.
    pub fn spec(&self) -> crate::github::checks::CheckRunSpec {
        crate::github::checks::CheckRunSpec {
            name: self.name.clone(),
            head_sha: self.head_sha.clone(),
            status: crate::event::Status::parse(&self.status),
            conclusion: self
                .conclusion
                .as_deref()
                .map(crate::event::Conclusion::parse),
            title: self.title.clone(),
            summary: self.summary.clone(),
            details_url: self.details_url.clone(),
            external_id: None,
        }
    }
}

/// The check run for an accepted result shown on the PR. Pure.
pub fn check_run(a: &Accepted) -> CheckRunContent {
    let r = &a.reported;
    let verdict: &str = match r.conclusion {
        Some(c) => c.as_str(),
        None => &r.status,
    };
    let blocking = if a.level.blocks_merge() {
        "blocks merging on failure"
    } else {
        "non-blocking"
    };
    let mut summary = format!(
        "Downstream CI of {} ({}, {blocking}): job {} of workflow {} (run {}, attempt {}) is {}.\n",
        code(&a.repo),
        a.level,
        code(&r.job_name),
        code(&r.workflow_name),
        r.run_id,
        r.run_attempt,
        code(verdict),
    );
    let t = r.tests;
    if t.total > 0 {
        summary.push_str(&format!(
            "\nTests: {} passed, {} failed, {} skipped of {}.\n",
            t.passed, t.failed, t.skipped, t.total
        ));
    }
    if !r.environment.is_empty() {
        summary.push_str(&format!("\nEnvironment: {}\n", inline(&r.environment)));
    }
    if let Some(url) = &r.artifact_url {
        summary.push_str(&format!("\n[Artifacts]({})\n", link_target(url)));
    }
    CheckRunContent {
        // One check run per downstream job: a later job's result must not
        // overwrite an earlier job's failure.
        name: format!("crcr/{} / {}", a.repo, text(&r.job_name, 100)),
        head_sha: a.head_sha.clone(),
        status: r.status.clone(),
        conclusion: r.conclusion.map(|c| c.as_str().to_string()),
        title: format!("{}: {verdict}", text(&r.job_name, 100)),
        summary,
        details_url: r.log_url.clone(),
    }
}

/// A checked URL inside `(...)` of a markdown link: parentheses, spaces
/// and angle brackets percent-encoded so the link cannot end early.
fn link_target(url: &str) -> String {
    url.replace('(', "%28")
        .replace(')', "%29")
        .replace(' ', "%20")
        .replace('<', "%3C")
        .replace('>', "%3E")
}

/// The marker kind of the on-call comment (key: the PR number).
pub const PING_MARKER: &str = "crcr-oncall";
/// The kind of the state hidden at its end.
const PING_STATE: &str = "crcr-oncall-state";
/// Failures listed in one comment, at most (older ones drop off).
const MAX_PINGS: usize = 50;

/// One failure the on-call comment lists (sanitised when it was added).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    pub head_sha: String,
    pub repo: String,
    pub level: String,
    pub workflow_name: String,
    pub job_name: String,
    pub conclusion: String,
    #[serde(default)]
    pub log_url: Option<String>,
    pub oncalls: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingState {
    pub pings: Vec<Ping>,
}

/// The state of ci-medic's own on-call comment (the caller passes only a
/// body the action wrote).
pub fn read_ping_state(body: &str) -> PingState {
    crate::report::hidden::read(body, PING_STATE).unwrap_or_default()
}

/// The on-call comment after `a`'s failure, or `None` when it needs no
/// change: not a paging failure, not shown on the PR, or this (head,
/// repository) already pinged (a re-run failing again pings nobody; a new
/// head failing again does).
pub fn ping(a: &Accepted, shown_on_pr: bool, state: &PingState) -> Option<(String, PingState)> {
    let r = &a.reported;
    let failed = r.conclusion.is_some_and(Conclusion::is_failure);
    if !failed || !shown_on_pr || !a.level.pings_oncalls() {
        return None;
    }
    let seen = state
        .pings
        .iter()
        .any(|p| p.head_sha == a.head_sha && p.repo.eq_ignore_ascii_case(&a.repo));
    if seen {
        return None;
    }
    let mut next = state.clone();
    next.pings.push(Ping {
        head_sha: a.head_sha.clone(),
        repo: a.repo.clone(),
        level: a.level.to_string(),
        workflow_name: r.workflow_name.clone(),
        job_name: r.job_name.clone(),
        conclusion: r
            .conclusion
            .map(Conclusion::as_str)
            .unwrap_or_default()
            .into(),
        log_url: r.log_url.clone(),
        oncalls: a.oncalls.clone(),
    });
    if next.pings.len() > MAX_PINGS {
        let extra = next.pings.len() - MAX_PINGS;
        next.pings.drain(..extra);
    }
    Some((ping_body(a.pr_number, &next), next))
}

/// The on-call comment for `state`. Repository names and on-calls were
/// validated by the allowlist; job names, conclusions and URLs are escaped.
pub fn ping_body(pr: u64, state: &PingState) -> String {
    let mut out = crate::github::marker::marker(PING_MARKER, &pr.to_string());
    out.push_str("\n### Downstream CI failures\n\n");
    for p in &state.pings {
        let cc: Vec<String> = p.oncalls.iter().map(|o| format!("@{o}")).collect();
        let log = p
            .log_url
            .as_deref()
            .and_then(web_url)
            .map(|u| format!(" ([log]({}))", link_target(&u)))
            .unwrap_or_default();
        out.push_str(&format!(
            "- {} ({}) on {}: job {} of {} concluded {}{log}.{}\n",
            code(&p.repo),
            inline(&p.level),
            code(p.head_sha.get(..12).unwrap_or(&p.head_sha)),
            code(&p.job_name),
            code(&p.workflow_name),
            code(&p.conclusion),
            if cc.is_empty() {
                String::new()
            } else {
                format!(" On call: {}", cc.join(" "))
            },
        ));
    }
    out.push_str("\nL4 failures block merging; L3 failures do not.\n\n");
    out.push_str(&crate::report::hidden::line(PING_STATE, state));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests;
