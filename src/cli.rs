//! The command line: global flags, subcommands, exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::github::{self, Client, Identity, RepoName, RetryPolicy};
use crate::{action, jobs};

/// Exit code when `heal` finds no safe fix.
pub const EXIT_UNFIXABLE: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "ci-medic",
    version,
    about = "Keeps a repository's CI healthy: explains failures, files one issue, re-runs flakes, heals workflows, reverts what broke trunk."
)]
pub struct Cli {
    /// Repository as OWNER/NAME.
    #[arg(long, env = "GITHUB_REPOSITORY", global = true)]
    pub repo: Option<String>,
    /// API token (else the `token` input, else GITHUB_TOKEN). Never printed.
    #[arg(long, global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// GitHub API URL (GitHub Enterprise Server: https://HOST/api/v3).
    #[arg(long, env = "GITHUB_API_URL", default_value = github::DEFAULT_API_URL, global = true)]
    pub api_url: String,
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
    /// ClickHouse schema management.
    Clickhouse {
        #[command(subcommand)]
        command: ClickhouseCommand,
    },
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// A job log, `gh run view --log` output, or a run's log zip (repeatable). Offline.
    #[arg(long)]
    pub log: Vec<PathBuf>,
    /// A workflow run of --repo to analyse and report on.
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
    #[arg(long)]
    pub as_of: Option<String>,
    /// Write the snapshot the decision was made from to this file.
    #[arg(long)]
    pub dump: Option<PathBuf>,
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
pub enum ClickhouseCommand {
    /// Create or upgrade the tables.
    Migrate,
}

/// Everything a job needs from the command line and the environment.
pub struct Context {
    pub cli: Cli,
    pub token: Option<String>,
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
            .as_deref()
            .context("no token: pass --token, set the `token` input, or GITHUB_TOKEN")?;
        Ok(Client::new(
            &self.cli.api_url,
            token,
            self.repo()?,
            RetryPolicy::default(),
        )?
        .with_identity(Identity::new(action::input("bot-login"))))
    }

    pub fn dry_run(&self) -> bool {
        self.cli.dry_run
    }

    pub fn json(&self) -> bool {
        self.cli.format == Format::Json
    }
}

/// The token from the flag, the action input, or the workflow's GITHUB_TOKEN.
fn resolve_token(flag: Option<&str>) -> Option<String> {
    flag.map(str::to_string)
        .or_else(|| action::input("token"))
        .or_else(|| std::env::var("GITHUB_TOKEN").ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Parse the command line and run; the binary's `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let token = resolve_token(cli.token.as_deref());
    if let Some(t) = &token {
        action::mask(t);
    }
    let mut cx = Context { cli, token };
    if action::input_bool("dry-run").ok().flatten() == Some(true) {
        cx.cli.dry_run = true;
    }
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
    match runtime.block_on(dispatch(&cx)) {
        Ok(code) => code,
        Err(e) => {
            action::report_error(&format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cx: &Context) -> Result<ExitCode> {
    match &cx.cli.command {
        Command::Run => jobs::run::run(cx).await,
        Command::Analyze(args) => jobs::analyze::command(cx, args).await,
        Command::Retry(args) => jobs::retry::command(cx, args).await,
        Command::Heal(args) => jobs::heal::command(cx, args).await,
        Command::Autorevert(args) => jobs::autorevert::command(cx, args).await,
        Command::Ingest(args) => jobs::ingest::command(cx, args).await,
        Command::Clickhouse { command } => jobs::clickhouse::command(cx, command).await,
    }
}

/// Logs go to stderr (stdout carries results and workflow commands), without
/// colours in CI and, inside a runner, without workflow commands in what they
/// quote; `CI_MEDIC_LOG` sets the filter.
fn init_tracing() {
    let in_actions = action::in_actions();
    let filter = tracing_subscriber::EnvFilter::try_from_env("CI_MEDIC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || action::LogWriter { in_actions })
        .with_ansi(false)
        .with_target(false)
        .try_init();
}
