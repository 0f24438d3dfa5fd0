//! The command line: global flags, subcommands, exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::{ExposeSecret as _, SecretString};

use crate::app::{self, Ctx};
use crate::config::{self, Config};
use crate::event::{self, Event};
use crate::github::{self, Client, Identity, RepoName, RetryPolicy};
use crate::runtime::Env;
use crate::{action, bot, jobs};

/// Exit code when `heal` finds no safe fix.
pub const EXIT_UNFIXABLE: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "ci-medic",
    version,
    about = "Keeps a repository's CI healthy: explains failures, files one issue, re-runs flakes, heals workflows, reverts what broke trunk."
)]
pub struct Cli {
    /// Repository as OWNER/NAME [default: GITHUB_REPOSITORY].
    #[arg(long, global = true)]
    pub repo: Option<String>,
    /// API token (else the `token` input, else GITHUB_TOKEN). Never printed.
    #[arg(long, global = true, hide_env_values = true, value_parser = parse_secret)]
    pub token: Option<SecretString>,
    /// GitHub API URL (GitHub Enterprise Server: https://HOST/api/v3).
    /// [default: GITHUB_API_URL, else `https://api.github.com`]
    #[arg(long, global = true)]
    pub api_url: Option<String>,
    /// Config file to use instead of .github/ci-medic.yml from the default branch.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Print the plan; write nothing.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// Unified diff (heal only).
    Diff,
    /// GitHub markdown (drci only; `text` prints the same).
    Markdown,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The action's entry point: route GITHUB_EVENT_NAME to the enabled jobs.
    Run,
    /// Explain a failed run: from local logs (--log), or a run of the repository.
    Analyze(AnalyzeArgs),
    /// Re-run the jobs of a failed run that failed for reasons a re-run fixes.
    Retry(RetryArgs),
    /// Turn a workflow-failure issue (or a local analysis) into a workflow fix.
    Heal(HealArgs),
    /// Find the commit that broke trunk, confirm it, revert or notify.
    Autorevert(AutorevertArgs),
    /// Write a workflow_job, workflow_run or push event into ClickHouse.
    Ingest(IngestArgs),
    /// Dr. CI, offline: classify a pull request's failed jobs from a snapshot.
    Drci(DrciArgs),
    /// Comment commands (`@ci-medic merge`, ...).
    Bot {
        #[command(subcommand)]
        command: BotCommand,
    },
    /// ClickHouse schema management.
    Clickhouse {
        #[command(subcommand)]
        command: ClickhouseCommand,
    },
    /// Downstream (out-of-tree) CI: the allowlist of repositories that test pull requests.
    Crcr {
        #[command(subcommand)]
        command: CrcrCommand,
    },
    /// The CI health site (static HTML for GitHub Pages).
    Hud {
        #[command(subcommand)]
        command: HudCommand,
    },
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// A job log, `gh run view --log` output, or a run's log zip (repeatable). Offline.
    #[arg(long)]
    pub log: Vec<PathBuf>,
    /// A workflow run of --repo to analyze and report on.
    #[arg(long, conflicts_with = "log")]
    pub run_id: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The failed workflow run.
    #[arg(long)]
    pub run_id: Option<u64>,
}

#[derive(Debug, Args)]
pub struct HealArgs {
    /// The workflow-failure issue to heal.
    #[arg(long)]
    pub issue: Option<u64>,
    /// Offline: the workflow file to fix.
    #[arg(long, requires = "analysis")]
    pub workflow: Option<PathBuf>,
    /// Offline: `analyze --format json` output, or an issue body holding the analysis block.
    #[arg(long, requires = "workflow")]
    pub analysis: Option<PathBuf>,
    /// Offline: the job id (key under `jobs:`) to fix.
    #[arg(long)]
    pub job: Option<String>,
    /// Offline: edit the workflow file in place.
    #[arg(long)]
    pub write: bool,
}

#[derive(Debug, Args)]
pub struct AutorevertArgs {
    /// Where job results come from: github, clickhouse, or file:SNAPSHOT.json.
    #[arg(long)]
    pub source: Option<String>,
    /// Replay the decision as of this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub as_of: Option<DateTime<Utc>>,
    /// Write the snapshot the decision was made from to this file.
    #[arg(long)]
    pub dump: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DrciArgs {
    /// The snapshot (JSON) of a pull request's jobs to classify.
    #[arg(long, required_unless_present = "dump", conflicts_with = "dump")]
    pub snapshot: Option<PathBuf>,
    /// Write the snapshot of a live pull request (`--pr`) to this file.
    #[arg(long, requires = "pr")]
    pub dump: Option<PathBuf>,
    /// The pull request `--dump` reads.
    #[arg(long)]
    pub pr: Option<u64>,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The event's name (default: GITHUB_EVENT_NAME).
    #[arg(long)]
    pub event: Option<String>,
    /// The event's payload file (default: GITHUB_EVENT_PATH).
    #[arg(long)]
    pub payload: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BotCommand {
    /// Offline: find and parse the command in a comment (`--format json`).
    Parse(BotParseArgs),
}

#[derive(Debug, Args)]
pub struct BotParseArgs {
    /// A handle that starts a command (repeatable) (default: `@ci-medic`).
    #[arg(long, value_name = "@NAME")]
    pub handle: Vec<String>,
    /// The comment body.
    #[arg(long, required_unless_present = "file", conflicts_with = "file")]
    pub text: Option<String>,
    /// A file holding the comment body.
    #[arg(long)]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ClickhouseCommand {
    /// Create or upgrade the tables.
    Migrate,
}

#[derive(Debug, Subcommand)]
pub enum CrcrCommand {
    /// Check an allowlist file offline: its repositories, or every error (exit 1).
    Allowlist(CrcrAllowlistArgs),
    /// In a downstream workflow: send this job's result back to the upstream
    /// repository, with the job's OIDC token as proof of origin.
    Report(Box<CrcrReportArgs>),
    /// A `crcr-result` payload through the checks a live result passes: the
    /// row it makes (written to ClickHouse; printed with --dry-run), or why it
    /// is rejected (exit 1).
    Ingest(CrcrIngestArgs),
    /// Downstream repositories by pass rate, average duration and last run.
    Summary(CrcrViewArgs),
    /// Pull requests (rows) by downstream jobs (columns), at each PR's head.
    Matrix(CrcrViewArgs),
    /// The downstream jobs of one pull request's head.
    Pr(CrcrPrArgs),
}

#[derive(Debug, Args)]
pub struct CrcrIngestArgs {
    /// The payload: a `client_payload`, or a whole `repository_dispatch` event.
    #[arg(long, value_name = "FILE")]
    pub payload: PathBuf,
    /// Take the origin as proven for OWNER/NAME instead of verifying the
    /// payload's OIDC token (offline checks, replays of verified results).
    #[arg(long, value_name = "OWNER/NAME")]
    pub verified_repo: Option<String>,
    /// The allowlist file [default: `crcr.allowlist` from the default branch].
    #[arg(long, value_name = "FILE")]
    pub allowlist: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CrcrViewArgs {
    /// Days of results to read (ClickHouse).
    #[arg(long, value_name = "DAYS", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=365))]
    pub days: u32,
    /// Pull requests to show, most recently reported first.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct CrcrPrArgs {
    /// The pull request.
    pub number: u64,
}

#[derive(Debug, Args)]
pub struct CrcrReportArgs {
    /// The upstream repository (default: from the `crcr-pull-request` event).
    #[arg(long, value_name = "OWNER/NAME")]
    pub upstream: Option<String>,
    /// The upstream pull request (default: from the event).
    #[arg(long)]
    pub pr: Option<u64>,
    /// The upstream head SHA tested (default: from the event).
    #[arg(long)]
    pub head_sha: Option<String>,
    /// The job's name (default: GITHUB_JOB).
    #[arg(long)]
    pub job_name: Option<String>,
    /// `queued`, `in_progress` or `completed`.
    #[arg(long, default_value = "completed")]
    pub status: String,
    /// The job's conclusion (`success`, `failure`, `cancelled`, ...).
    #[arg(long)]
    pub conclusion: Option<String>,
    /// When the job started (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub started_at: Option<DateTime<Utc>>,
    /// When the job completed (RFC 3339; default: now, for a completed job).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub completed_at: Option<DateTime<Utc>>,
    #[arg(long, default_value_t = 0)]
    pub tests_total: u32,
    #[arg(long, default_value_t = 0)]
    pub tests_passed: u32,
    #[arg(long, default_value_t = 0)]
    pub tests_failed: u32,
    #[arg(long, default_value_t = 0)]
    pub tests_skipped: u32,
    /// The log's URL (default: this run's page).
    #[arg(long)]
    pub log_url: Option<String>,
    #[arg(long)]
    pub artifact_url: Option<String>,
    /// Free text: hardware, driver, image.
    #[arg(long)]
    pub environment: Option<String>,
    /// The audience of the OIDC token (the upstream's `crcr.audience`).
    #[arg(long, default_value = crate::crcr::config::DEFAULT_AUDIENCE)]
    pub audience: String,
}

#[derive(Debug, Args)]
pub struct CrcrAllowlistArgs {
    /// The allowlist file to check (PyTorch's `.github/allowlist.yml` format).
    #[arg(long, value_name = "FILE")]
    pub check: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum HudCommand {
    /// Build the site into a directory.
    Build(HudArgs),
}

#[derive(Debug, Args)]
pub struct HudArgs {
    /// The directory to write the site to (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Where the data comes from: github, clickhouse, or file:SNAPSHOT.json [default: github].
    #[arg(long)]
    pub source: Option<String>,
    /// Days of history to read [default: 14].
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=365))]
    pub since: Option<u32>,
    /// Also write the snapshot the site was built from to this file.
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
    /// Read the window ending at this time (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub as_of: Option<DateTime<Utc>>,
}

/// What every time flag (`--as-of`, `--started-at`, `--completed-at`)
/// takes: an RFC 3339 time, with its offset, read as UTC. The one parser of
/// times given on the command line; clap names the flag and the value in
/// its error.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 time such as 2024-05-01T12:00:00Z ({e})"))
}

/// A secret argument, trimmed and kept out of `Debug` output from the start.
fn parse_secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.trim()))
}

/// The command line and the environment: how to reach GitHub and which
/// config to read. Commands turn it into an [`app::Ctx`].
pub struct Context {
    pub cli: Cli,
    pub env: Env,
    pub token: Option<SecretString>,
}

impl Context {
    pub fn repo(&self) -> Result<RepoName> {
        let repo = self
            .cli
            .repo
            .as_deref()
            .context("no repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY")?;
        RepoName::parse(repo)
    }

    /// A GitHub client, or an error saying what is missing. It writes as
    /// the workflow token's bot and the `bot-login` input's login.
    pub fn client(&self) -> Result<Client> {
        let token = self
            .token
            .clone()
            .context("no token: pass --token, set the `token` input, or GITHUB_TOKEN")?;
        Ok(Client::new(
            self.cli
                .api_url
                .as_deref()
                .unwrap_or(github::DEFAULT_API_URL),
            token,
            self.repo()?,
            RetryPolicy::default(),
        )?
        .with_identity(Identity::new(self.env.input("bot-login"))))
    }

    pub fn dry_run(&self) -> bool {
        self.cli.dry_run
    }

    /// The client for writes to other repositories, from the `crcr-token`
    /// input (masked at once); `None` without it.
    pub fn relay_client(&self) -> Result<Option<Client>> {
        let Some(token) = self
            .env
            .input("crcr-token")
            .filter(|t| !t.trim().is_empty())
        else {
            return Ok(None);
        };
        self.env.mask(token.trim());
        Ok(Some(Client::new(
            self.cli
                .api_url
                .as_deref()
                .unwrap_or(github::DEFAULT_API_URL),
            SecretString::from(token.trim()),
            self.repo()?,
            RetryPolicy::default(),
        )?))
    }

    pub fn json(&self) -> bool {
        self.cli.format == Format::Json
    }

    /// The context handlers run in.
    pub fn ctx(&self, github: Option<Client>, config: Config) -> Ctx {
        Ctx::new(
            github,
            config,
            self.env.clone(),
            self.cli.dry_run,
            self.cli.format,
        )
    }

    /// Load the config: `--config` (a local file), else the file named by the
    /// `config` input (default `.github/ci-medic.yml`) from the default
    /// branch, so a pull request never changes the rules that judge it.
    pub async fn load_config(&self, client: Option<&Client>) -> Result<Config> {
        if let Some(path) = &self.cli.config {
            return read_local(path);
        }
        let path = self
            .env
            .input("config")
            .unwrap_or_else(|| config::DEFAULT_PATH.to_string());
        // In a checked-out workspace a local file wins (tests and `act`).
        let local = PathBuf::from(&path);
        let Some(client) = client else {
            return if local.is_file() {
                read_local(&local)
            } else {
                Ok(Config::default())
            };
        };
        let branch = client.default_branch().await?;
        match client.file_text(&path, &branch).await? {
            Some(text) => Ok(Config::parse(&path, &text)?),
            None => {
                tracing::info!("no {path} on {branch}: using defaults");
                Ok(Config::default())
            }
        }
    }
}

fn read_local(path: &PathBuf) -> Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config {}", path.display()))?;
    Ok(Config::parse(&path.display().to_string(), &text)?)
}

/// The token from the flag, the action input, or the workflow's GITHUB_TOKEN.
fn resolve_token(flag: Option<&SecretString>, env: &Env) -> Option<SecretString> {
    if let Some(t) = flag {
        // Already trimmed (see `parse_secret`); an empty flag means no token.
        // Only the length is looked at.
        return (!t.expose_secret().is_empty()).then(|| t.clone());
    }
    env.input("token")
        .or_else(|| env.var("GITHUB_TOKEN").map(str::to_string))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .map(SecretString::from)
}

/// Parse the command line and run; the binary's `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = Env::from_process();
    init_tracing(env.in_actions());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run_cli(cli, env))
}

/// Run `args` (the program name first) against `env`, in this process:
/// what the binary does, for embedding and tests. A usage error exits 2.
pub async fn run_args<I, T>(args: I, env: Env) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(cli) => run_cli(cli, env).await,
        Err(e) => {
            env.err(&e.to_string());
            ExitCode::from(if e.use_stderr() { 2 } else { 0 })
        }
    }
}

/// Run a parsed command line against an environment.
pub async fn run_cli(mut cli: Cli, env: Env) -> ExitCode {
    if cli.repo.is_none() {
        cli.repo = env.var("GITHUB_REPOSITORY").map(str::to_string);
    }
    if cli.api_url.is_none() {
        cli.api_url = env.var("GITHUB_API_URL").map(str::to_string);
    }
    let token = resolve_token(cli.token.as_ref(), &env);
    if let Some(t) = &token {
        env.mask(t.expose_secret());
    }
    let mut cx = Context { cli, env, token };
    // A safety flag that cannot be read fails closed: no run at all.
    match cx.env.input_bool("dry-run") {
        Ok(Some(true)) => cx.cli.dry_run = true,
        Ok(_) => {}
        Err(e) => {
            let msg = format!("{e:#}; refusing to run (nothing was written)");
            cx.env.report_error("ci-medic", &msg);
            return ExitCode::FAILURE;
        }
    }
    match dispatch(&cx).await {
        Ok(code) => code,
        Err(e) => {
            cx.env.report_error("ci-medic", &format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cx: &Context) -> Result<ExitCode> {
    match &cx.cli.command {
        Command::Run => run(cx).await,
        Command::Analyze(args) => jobs::analyze::command(cx, args).await,
        Command::Retry(args) => jobs::retry::command(cx, args).await,
        Command::Heal(args) => jobs::heal::command(cx, args).await,
        Command::Autorevert(args) => jobs::autorevert::command(cx, args).await,
        Command::Ingest(args) => jobs::ingest::command(cx, args).await,
        Command::Drci(args) => crate::drci::command(cx, args).await,
        Command::Bot {
            command: BotCommand::Parse(args),
        } => bot::parse_command(cx, args).await,
        Command::Clickhouse { command } => jobs::clickhouse::command(cx, command).await,
        Command::Crcr { command } => crate::crcr::command(cx, command).await,
        Command::Hud { command } => crate::hud::command(cx, command).await,
    }
}

/// `run`: the action's entry point. Reads the event the runner hands us,
/// loads the repository's config, and offers the event to the handlers.
async fn run(cx: &Context) -> Result<ExitCode> {
    let name = cx
        .env
        .var("GITHUB_EVENT_NAME")
        .context("GITHUB_EVENT_NAME is not set: `run` is meant to run inside GitHub Actions")?;
    let path = cx
        .env
        .var("GITHUB_EVENT_PATH")
        .map(PathBuf::from)
        .context("GITHUB_EVENT_PATH is not set")?;
    let event = event::load(name, &path)?;
    if let Event::Unhandled(name) = &event {
        cx.env.out(&format!(
            "ci-medic: event {name} is not handled; nothing to do"
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let client = cx.client()?;
    let config = cx.load_config(Some(&client)).await?;
    let mut ctx = cx.ctx(Some(client), config);
    ctx.relay = cx.relay_client()?;
    app::run(&ctx, &event).await
}

/// Logs go to stderr (stdout carries results and workflow commands), without
/// colours in CI and, inside a runner, without workflow commands in what they
/// quote; `CI_MEDIC_LOG` sets the filter.
fn init_tracing(in_actions: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CI_MEDIC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || action::LogWriter { in_actions })
        .with_ansi(false)
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_flag_never_shows_in_debug_output() {
        let cli = Cli::try_parse_from(["ci-medic", "--token", " ghs_s3cr3t ", "run"]).unwrap();
        let empty = Cli::try_parse_from(["ci-medic", "--token", " ", "run"]).unwrap();
        assert!(resolve_token(empty.token.as_ref(), &Env::default()).is_none());
        assert!(!format!("{cli:?}").contains("s3cr3t"));
        let token = resolve_token(cli.token.as_ref(), &Env::default()).unwrap();
        assert_eq!(token.expose_secret(), "ghs_s3cr3t");
        assert!(!format!("{token:?}").contains("s3cr3t"));
    }

    /// Every time flag of every subcommand goes through [`parse_time`]:
    /// the same times are accepted and the same refusal is given.
    #[test]
    fn every_time_flag_takes_one_rfc3339_parser() {
        let want = parse_time(" 2024-05-01T14:00:00+02:00 ").unwrap();
        assert_eq!(want.to_rfc3339(), "2024-05-01T12:00:00+00:00");
        let invocations: [&[&str]; 4] = [
            &["autorevert", "--as-of"],
            &["hud", "build", "--out", "site", "--as-of"],
            &["crcr", "report", "--started-at"],
            &["crcr", "report", "--completed-at"],
        ];
        for args in invocations {
            let flag = args.last().copied().unwrap();
            let parse = |value: &str| {
                let mut argv = vec!["ci-medic"];
                argv.extend_from_slice(args);
                argv.push(value);
                Cli::try_parse_from(argv)
            };
            let cli = parse("2024-05-01T14:00:00+02:00").unwrap();
            let got = match cli.command {
                Command::Autorevert(a) => a.as_of,
                Command::Hud {
                    command: HudCommand::Build(a),
                } => a.as_of,
                Command::Crcr {
                    command: CrcrCommand::Report(a),
                } if flag == "--started-at" => a.started_at,
                Command::Crcr {
                    command: CrcrCommand::Report(a),
                } => a.completed_at,
                other => panic!("{other:?}"),
            };
            assert_eq!(got, Some(want), "{flag}");
            for bad in ["yesterday", "2024-05-01", "2024-05-01T12:00:00"] {
                let err = parse(bad).unwrap_err().to_string();
                assert!(
                    err.contains(&format!("invalid value '{bad}' for '{flag} <TIME>'"))
                        && err.contains("not an RFC 3339 time such as 2024-05-01T12:00:00Z"),
                    "{flag} {bad}: {err}"
                );
            }
        }
    }
}
